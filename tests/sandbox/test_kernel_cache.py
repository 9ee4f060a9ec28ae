"""`strategylab warm-indicators` fills numba's kernel cache, which sandboxed runs only read."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.engine import indicator_names, look_ahead_reason
from app.engine.indicator_rules import REFUSED_INDICATORS
from sandbox.kernel_cache import warm_settings

ROOT = Path(__file__).resolve().parents[2]
# The command as a sandboxed run's process sees the cache: kernels are read, never saved.
READ_ONLY_COMMAND = (
    "from sandbox.worker import keep_numba_cache_read_only; keep_numba_cache_read_only()\n"
    "import sys; sys.argv = ['strategylab', 'warm-indicators']\n"
    "from app.cli import main; main()"
)
# One indicator per kind of kernel: pandas-ta's (with its shared helpers in utils._numba) and
# each module of the engine's fast indicators. Compiling all ~70 kernels from scratch takes
# a minute or more; scripts/setup does it before the tests, and the test below it checks that
# it left nothing to compile.
SAMPLE = ("sma", "wma", "aroon", "ebsw", "psar", "adx")
SAMPLE_COMMAND = (
    "import sys\n"
    "from sandbox.kernel_cache import fill_kernel_cache\n"
    "report = fill_kernel_cache(names=sys.argv[1].split(','))\n"
    "print(report.indicators, ' '.join(report.compiled))\n"
    "for name, error in report.failed: print(name, error, file=sys.stderr)"
)


def python(
    code: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
@pytest.mark.timeout(600)  # compiles a sample of the kernels from scratch: ~15 s of CPU
def test_filling_an_empty_cache_compiles_and_saves_each_kind_of_kernel(tmp_path: Path) -> None:
    # An empty cache, as on a fresh install: each kernel the sample uses is compiled and saved.
    cache = tmp_path / "numba-cache"
    done = python(SAMPLE_COMMAND, ",".join(SAMPLE), env={"NUMBA_CACHE_DIR": str(cache)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stderr == ""  # no indicator failed
    indicators, *compiled = done.stdout.split()
    assert int(indicators) == len(SAMPLE)
    saved = {path.name.split(".")[0] for path in cache.rglob("*.nbi")}  # e.g. "sma.nb_sma-12..."
    assert {"sma", "wma", "_numba"} <= saved, sorted(saved)
    # and the engine's own fast indicator kernels (app/engine/fast_indicators)
    assert {"primitives", "trend", "windows", "filters"} <= saved, sorted(saved)
    assert {name.split(".")[-2] for name in compiled} <= saved  # each compiled one was saved
    again = python(SAMPLE_COMMAND, ",".join(SAMPLE), env={"NUMBA_CACHE_DIR": str(cache)})
    assert again.stdout.split() == [str(len(SAMPLE))]  # read back: nothing compiled twice


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_after_setup_a_sandboxed_process_finds_every_kernel_in_the_cache() -> None:
    # scripts/setup ran `strategylab warm-indicators`: every indicator a strategy may use now
    # loads its kernels from numba's cache (beside the packages) and compiles none of them.
    done = python(READ_ONLY_COMMAND)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "numba kernels are cached" in done.stdout
    assert done.stderr == ""  # no indicator failed
    assert "(0 numba kernels compiled" in done.stdout, (
        f"{done.stdout.strip()}: run `strategylab warm-indicators` (scripts/setup does)"
    )


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("dpo", {"centered": False}),
        ("ichimoku", {"include_chikou": False}),
        ("cdl_pattern", {"name": "doji"}),
        ("sma", {}),
        ("zigzag", {}),
    ],
)
def test_indicators_that_must_be_given_a_setting_are_warmed_with_it(
    name: str, settings: dict[str, object]
) -> None:
    assert warm_settings(name) == settings


def test_every_indicator_but_those_refused_whatever_their_settings_is_warmed() -> None:
    warmed = {n for n in indicator_names() if look_ahead_reason(n, warm_settings(n)) is None}
    assert {"dpo", "ichimoku", "cdl_pattern"} <= warmed
    assert set(indicator_names()) - warmed == set(REFUSED_INDICATORS) & set(indicator_names())
