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
COMMAND = (
    "import sys; sys.argv = ['strategylab', 'warm-indicators']; from app.cli import main; main()"
)


@pytest.mark.slow
@pytest.mark.timeout(900)  # compiles pandas-ta's and the engine's ~70 kernels from scratch
def test_warm_indicators_compiles_and_saves_every_kernel(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    done = subprocess.run(
        [sys.executable, "-c", COMMAND],
        cwd=ROOT,
        env={**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "numba kernels are cached" in done.stdout
    assert done.stderr == ""  # no indicator failed
    saved = {path.name.split(".")[0] for path in cache.rglob("*.nbi")}  # e.g. "roc.nb_roc-12..."
    assert {"sma", "wma", "roc", "exhc"} <= saved, sorted(saved)
    # and the engine's own fast indicator kernels (app/engine/fast_indicators)
    assert {"primitives", "trend", "windows", "filters"} <= saved, sorted(saved)


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
