"""`strategylab run --checkpoint-every` and `strategylab resume`: bad input and refused
strategy state answered with one sentence and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.data import generate_ohlcv
from app.run_options import EXIT_BAD_INPUT

UNDECLARED = """
class Counter(Strategy):
    def initialize(self):
        self.count = 0

    def on_data(self, bar):
        self.count += 1
"""


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "btc-1h.csv"
    frame = generate_ohlcv(bars=400, timeframe="1h", seed=3)
    frame.index.name = "time"
    frame.to_csv(path)
    return path


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, [str(arg) for arg in args])
    return result.exit_code, result.output


def test_checkpoints_need_a_run_folder(data_csv: Path, tmp_path: Path) -> None:
    strategy = tmp_path / "counter.py"
    strategy.write_text(UNDECLARED, encoding="utf-8")
    code, output = run("run", strategy, "--data", data_csv, "--checkpoint-every", "100")
    assert code == EXIT_BAD_INPUT
    assert "--checkpoint-every" in output and "--out" in output


@pytest.mark.parametrize(
    ("flag", "value", "words"),
    [("--checkpoint-every", "-5", "0 to 1e+09"), ("--keep-checkpoints", "0", "1 to 100")],
)
def test_checkpoint_options_out_of_bounds_name_the_option(
    data_csv: Path, tmp_path: Path, flag: str, value: str, words: str
) -> None:
    strategy = tmp_path / "counter.py"
    strategy.write_text(UNDECLARED, encoding="utf-8")
    args = ("run", strategy, "--data", data_csv, "--out", tmp_path / "out", flag, value)
    code, output = run(*args)
    assert code == EXIT_BAD_INPUT
    assert flag in output and words in output and "Traceback" not in output


def test_an_undeclared_attribute_is_refused_at_the_first_checkpoint(
    data_csv: Path, tmp_path: Path
) -> None:
    strategy = tmp_path / "counter.py"
    strategy.write_text(UNDECLARED, encoding="utf-8")
    out = tmp_path / "out"
    code, output = run(
        "run", strategy, "--data", data_csv, "--out", out, "--checkpoint-every", "100"
    )
    assert code != 0 and "Traceback" not in output
    flat = " ".join(output.split())
    assert "attribute `count` changed after initialize()" in flat
    assert 'state = ("count", ...)' in flat


def test_resume_of_a_folder_without_checkpoints_says_how_to_get_them(tmp_path: Path) -> None:
    code, output = run("resume", tmp_path)
    assert code == EXIT_BAD_INPUT
    assert "--checkpoint-every" in " ".join(output.split())
