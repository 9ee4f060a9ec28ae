"""`strategylab run` prints strategy text escaped and writes what it can: Rich markup, terminal
escapes, surrogates and forged lines in params, logs and errors come out as visible text (no
MarkupError, no raw escape, no traceback); a run file that cannot be written costs only that
file, with one sentence and a non-zero exit. The worker is the real one, or a hostile stand-in
(tests/hostile_worker.py)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import app.runs.service
from app.cli import EXIT_STRATEGY_FAILED, cli_app
from app.data import generate_ohlcv
from tests.hostile_worker import FORGED_LINE_START, NASTY_TEXTS, hostile_worker, script

# Validation refuses control characters and surrogates written in the source (params included),
# so the hostile text is built at run time, where only the parent's cleaning stands in its way.
NASTY_STRATEGY = r"""
class Nasty(Strategy):
    params = {"title": "[bold red]boom[/] [link=file:///etc/passwd]x[/link]", "n": 3}

    def on_data(self, bar):
        esc, bel = chr(27), chr(7)
        if bar.index == 100:
            self.log("forged" + chr(10) + "2024-01-01T00:00:00Z bar=3 warning: liquidated: wiped")
            self.log("clear " + esc + "[2J title " + esc + "]0;x" + bel + " bidi " + chr(0x202E)
                     + " C1 " + chr(0x9B) + " surrogate " + chr(0xD800))
"""
RAISING_STRATEGY = r"""
class Raiser(Strategy):
    def on_data(self, bar):
        if bar.index == 60:
            text = "[/] " + chr(27) + "]0;pwned" + chr(7) + " " + chr(0xD800) + " next"
            raise ValueError(text + chr(10) + "forged line [bold]")
"""
RUN_FILES = ("trades.csv", "orders.csv", "equity.csv", "metrics.json", "log.txt", "provenance.json")


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "btc-1h.csv"
    frame = generate_ohlcv(bars=400, timeframe="1h", seed=5)
    frame.index = pd.DatetimeIndex(frame.index).as_unit("ms").asi8  # epoch ms
    frame.index.name = "time"
    frame.to_csv(path)
    return path


def strategy_file(folder: Path, source: str) -> Path:
    path = folder / "strategy.py"
    path.write_text(source, encoding="utf-8")
    return path


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, [str(arg) for arg in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def is_terminal_safe(output: str) -> bool:
    """Printable lines only: no escape, control, surrogate or separator reaches the terminal,
    and nothing that failed on the way."""
    return (
        all(line.isprintable() for line in output.splitlines())
        and "Traceback" not in output
        and "MarkupError" not in output
    )


def test_cant_inject_markup_or_escapes_through_params_and_logs(
    data_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    code, output = run(
        "run", strategy_file(tmp_path, NASTY_STRATEGY), "--data", data_csv, "--out", out
    )
    assert code == 0, output
    assert is_terminal_safe(output)
    assert "[bold red]boom[/]" in output and "[link=file:///etc/passwd]x[/link]" in output
    log = (out / "log.txt").read_text(encoding="utf-8").splitlines()
    assert len(log) == 2 and not any(line.startswith(FORGED_LINE_START) for line in log)
    assert all(line.isprintable() for line in log) and "\\n" + FORGED_LINE_START in log[0]
    assert "\\x1b[2J" in log[1] and "\\u202e" in log[1] and "\\x9b" in log[1]


def test_cant_inject_markup_or_escapes_through_an_error(data_csv: Path, tmp_path: Path) -> None:
    code, output = run("run", strategy_file(tmp_path, RAISING_STRATEGY), "--data", data_csv)
    assert code == EXIT_STRATEGY_FAILED
    assert is_terminal_safe(output)
    assert "the strategy failed" in output and "[/] \\x1b]0;pwned\\x07" in output
    assert "\\nforged line [bold]" in output


def test_a_run_file_that_cannot_be_written_costs_only_that_file(
    data_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    (out / "log.txt").mkdir(parents=True)  # a folder where the file should go: the write fails
    (out / "provenance.json").mkdir()
    code, output = run(
        "run", strategy_file(tmp_path, NASTY_STRATEGY), "--data", data_csv, "--out", out
    )
    assert code != 0 and is_terminal_safe(output)
    [error] = [line for line in output.splitlines() if line.startswith("error:")]
    assert "log.txt" in error and "provenance.json" in error and "other 4 were" in error
    for name in RUN_FILES:
        assert (out / name).is_file() is (name not in ("log.txt", "provenance.json"))


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        ("garbage", "the sandbox worker failed"),
        ("exit_mid_frame", "in the middle of a message"),
        ("nasty_internal", "the sandbox worker failed"),
        ("nasty_error", "the strategy failed"),
    ],
)
def test_cant_take_the_cli_down_with_a_hostile_worker(
    behaviour: str, expected: str, data_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        app.runs.service, "start_worker", lambda: hostile_worker(script(behaviour), tmp_path)
    )
    code, output = run("run", strategy_file(tmp_path, NASTY_STRATEGY), "--data", data_csv)
    assert code == EXIT_STRATEGY_FAILED and expected in output
    assert is_terminal_safe(output)


def test_a_hostile_result_is_printed_and_written_clean(
    data_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hostile = script("nasty_result", time0=1_704_067_200_000_000_000)
    monkeypatch.setattr(app.runs.service, "start_worker", lambda: hostile_worker(hostile, tmp_path))
    out = tmp_path / "out"
    code, output = run(
        "run", strategy_file(tmp_path, NASTY_STRATEGY), "--data", data_csv, "--out", out
    )
    assert code == 0, output
    assert is_terminal_safe(output) and "[bold]Evil\\x1b]0;title\\x07" in output
    log = (out / "log.txt").read_text(encoding="utf-8").splitlines()
    assert len(log) == len(NASTY_TEXTS) + 1 and all(line.isprintable() for line in log)
    assert not any(line.startswith(FORGED_LINE_START) for line in log)
