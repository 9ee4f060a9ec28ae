"""`strategylab run` options a trader from another tool reaches for first: `--trading-days` and
`--risk-free` (short for --trading-days-per-year and --risk-free-rate), `--map SOURCE=TARGET`
for a data file's own column names (as `data import --map`), and backtesting.py's own CSV
layout (an unnamed date column, then Open, High, Low, Close, Volume)."""

from __future__ import annotations

import json
from pathlib import Path

import backtesting
import pandas as pd
import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.data import generate_ohlcv
from app.run_options import EXIT_BAD_INPUT

EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"
SMA = EXAMPLES / "sma_crossover.py"
GOOG_CSV = Path(backtesting.__file__).parent / "test" / "GOOG.csv"


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, [str(arg) for arg in args])
    return result.exit_code, result.output


def metrics(folder: Path) -> dict[str, object]:
    document = json.loads((folder / "metrics.json").read_text())
    return {**document["metrics"], **document["conventions"]}


@pytest.fixture(scope="module")
def renamed_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hourly bars whose columns have an exchange's own names."""
    frame = generate_ohlcv(bars=600, timeframe="1h", seed=5)
    frame.index = pd.DatetimeIndex(frame.index).as_unit("ms").asi8
    frame.index.name = "open_ms"
    frame = frame.rename(
        columns={"open": "o", "high": "h", "low": "l", "close": "c", "volume": "qty"}
    )
    path = tmp_path_factory.mktemp("data") / "renamed.csv"
    frame.to_csv(path)
    return path


def test_short_flags_set_the_annualisation_and_the_risk_free_rate(
    renamed_csv: Path, tmp_path: Path
) -> None:
    mapping = ["--map", "open_ms=time", "--map", "o=open", "--map", "h=high", "--map", "l=low"]
    mapping += ["--map", "c=close", "--map", "qty=volume"]
    long_out, short_out = tmp_path / "long", tmp_path / "short"
    code, output = run(
        "run", SMA, "--data", renamed_csv, *mapping, "--trading-days-per-year", "252",
        "--risk-free-rate", "0.04", "--out", long_out,
    )  # fmt: skip
    assert code == 0, output
    code, output = run(
        "run", SMA, "--data", renamed_csv, *mapping, "--trading-days", "252",
        "--risk-free", "0.04", "--out", short_out,
    )  # fmt: skip
    assert code == 0, output
    figures = metrics(short_out)
    assert (figures["annualisation_days"], figures["risk_free_rate"]) == (252, 0.04)
    assert figures == metrics(long_out)
    assert (short_out / "trades.csv").read_bytes() == (long_out / "trades.csv").read_bytes()


def test_a_file_with_other_column_names_needs_the_mapping(renamed_csv: Path) -> None:
    code, output = run("run", SMA, "--data", renamed_csv)
    assert code == EXIT_BAD_INPUT
    assert "is missing the column(s)" in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("pair", "words"),
    [("close", "--map: takes SOURCE=TARGET"), ("c=closing", "TARGET one of time, open")],
)
def test_a_bad_mapping_is_one_sentence(renamed_csv: Path, pair: str, words: str) -> None:
    code, output = run("run", SMA, "--data", renamed_csv, "--map", pair)
    assert code == EXIT_BAD_INPUT
    assert words in output and "Traceback" not in output


def test_backtesting_pys_own_csv_runs_as_it_is(tmp_path: Path) -> None:
    assert GOOG_CSV.read_text().splitlines()[0] == ",Open,High,Low,Close,Volume"
    code, output = run(
        "run", SMA, "--data", GOOG_CSV, "--symbol", "GOOG", "--mode", "spot",
        "--trading-days", "252", "--param", "amount=1", "--out", tmp_path / "goog",
    )  # fmt: skip
    assert code == 0, output
    figures = metrics(tmp_path / "goog")
    assert figures["bars"] == 2_148 and figures["start"] == "2004-08-19T00:00:00Z"
    assert figures["warmup_bars"] == 29  # sma_crossover's slow sma(30)
