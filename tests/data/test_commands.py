"""`strategylab data ...`: each command end to end on a temporary data folder, no tracebacks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from app.data.commands import data_app, write_ohlcv_csv
from app.data.importers import read_ohlcv
from app.data.samples import generate_ohlcv, sample_paths
from tests.data.binance_files import write_funding_zip, write_kline_zip
from tests.data.fake_exchange import FakeBinance, serve


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("STRATEGYLAB_DATA_DIR", str(folder))
    return folder


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(data_app, list(args), input=input)


def assert_clean_failure(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a handled error, not a traceback
    assert message in result.output


def test_samples_quiet_prints_nothing_and_keeps_existing_files(data_dir: Path) -> None:
    for path in sample_paths(data_dir):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"present")
    result = run("samples", "--quiet")
    assert (result.exit_code, result.output) == (0, "")
    assert all(path.read_bytes() == b"present" for path in sample_paths(data_dir))


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_generate_writes_a_readable_file(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"bars{suffix}"
    result = run("generate", "--bars", "120", "--timeframe", "1h", "--seed", "3", "--out", str(out))
    assert result.exit_code == 0, result.output
    frame = read_ohlcv(out)
    assert len(frame) == 120 and frame.index[1] - frame.index[0] == pd.Timedelta(hours=1)


def test_generate_refuses_other_extensions(tmp_path: Path) -> None:
    assert_clean_failure(
        run("generate", "--out", str(tmp_path / "bars.xlsx")), "must end in .csv or .parquet"
    )


def test_import_list_show_validate_resample_delete(
    tmp_path: Path, data_dir: Path, bars: pd.DataFrame
) -> None:
    path = write_kline_zip(tmp_path, bars, period="2024-01-01")
    imported = run("import", str(path), "--exchange", "binance", "--market", "futures")
    assert imported.exit_code == 0, imported.output
    assert "stored BTCUSDT/1m@1: 2,880 rows, sha256:" in imported.output
    assert "BTCUSDT/1m@1" in run("list").output
    shown = run("show", "BTCUSDT/1m")
    assert "content_hash" in shown.output and "futures" in shown.output
    assert run("validate", "BTCUSDT/1m").exit_code == 0
    resampled = run("resample", "BTCUSDT/1m", "--to", "1h", "--to", "4h")
    assert "stored BTCUSDT/1h@1" in resampled.output and "stored BTCUSDT/4h@1" in resampled.output
    assert "deleted BTCUSDT/4h@1" in run("delete", "BTCUSDT/4h", "--yes").output
    assert "BTCUSDT/4h" not in run("list", "--all").output


def test_delete_asks_first(tmp_path: Path, data_dir: Path, bars: pd.DataFrame) -> None:
    run("import", str(write_kline_zip(tmp_path, bars, period="2024-01-01")))
    assert run("delete", "BTCUSDT/1m@1", input="n\n").exit_code == 1
    assert "BTCUSDT/1m@1" in run("list").output


def test_import_of_broken_data_shows_the_report_and_refuses(
    tmp_path: Path, data_dir: Path, bars: pd.DataFrame
) -> None:
    broken = bars.copy()
    broken.iloc[3, 3] = -1.0  # a negative close
    path = tmp_path / "broken.csv"
    write_ohlcv_csv(broken, path)
    result = run("import", str(path), "--symbol", "BTCUSDT")
    assert_clean_failure(result, "non_positive_price")
    assert "so it was not imported" in result.output
    assert "no datasets yet" in run("list").output


def test_validate_a_file_not_yet_imported(
    tmp_path: Path, data_dir: Path, bars: pd.DataFrame
) -> None:
    path = tmp_path / "holey.csv"
    write_ohlcv_csv(bars.drop(bars.index[10:20]), path)
    result = run("validate", str(path))
    assert result.exit_code == 0 and "10 bar(s) missing from 2024-01-01T00:10:00Z" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "NOPE/1m"), "error: there is no dataset NOPE/1m"),
        (("show", "BTCUSDT"), "is not a dataset reference"),
        (("import", "missing.csv", "--symbol", "X"), "missing.csv does not exist"),
        (("resample", "NOPE/1m", "--to", "1h"), "there is no dataset NOPE/1m"),
        (("import", "x.csv", "--map", "nonsense"), "--map takes SOURCE=TARGET"),
    ],
)
def test_bad_input_gets_one_sentence_and_exit_1(
    data_dir: Path, args: tuple[str, ...], message: str
) -> None:
    assert_clean_failure(run(*args), message)


def test_fetch_command_stores_what_the_exchange_serves(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    market = generate_ohlcv(bars=300, start="2024-01-01", seed=2)
    exchange = FakeBinance(market)
    with serve(exchange) as client:
        monkeypatch.setattr("app.data.commands.make_exchange", lambda *_, **__: client)
        result = run("fetch", "BTC/USDT", "--start", "2024-01-01", "--end", "2024-01-01 05:00")
    assert result.exit_code == 0, result.output
    assert "300 bars in 1 request(s); current version BTCUSDT/1m@1" in result.output


def test_fetch_failure_is_one_sentence(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exchange = FakeBinance(generate_ohlcv(bars=10), fail_after_requests=0)
    with serve(exchange) as client:
        monkeypatch.setattr("app.data.commands.make_exchange", lambda *_, **__: client)
        result = run("fetch", "BTC/USDT", "--start", "2023-01-01", "--end", "2023-01-02")
    assert_clean_failure(result, "run the same fetch to resume")


def test_validate_a_stored_funding_series(tmp_path: Path, data_dir: Path) -> None:
    path, _ = write_funding_zip(tmp_path)
    assert run("import", str(path)).exit_code == 0
    result = run("validate", "BTCUSDT/funding")
    assert result.exit_code == 0 and "no problems found" in result.output
