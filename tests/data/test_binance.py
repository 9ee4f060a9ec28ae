"""Binance public-data files: klines with or without header, ms or µs, zips, funding rates."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from app.data.binance import parse_binance_name, read_binance_funding, read_binance_klines
from app.data.errors import DataFileError
from tests.data.binance_files import kline_csv, write_funding_zip, write_kline_zip


def standard(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index("time")


@pytest.mark.parametrize(
    ("microseconds", "header"), [(False, False), (True, False), (False, True), (True, True)]
)
def test_kline_zip_reads_back_the_bars_it_was_written_from(
    tmp_path: Path, bars: pd.DataFrame, microseconds: bool, header: bool
) -> None:
    path = write_kline_zip(
        tmp_path, bars, period="2024-01", microseconds=microseconds, header=header
    )
    pd.testing.assert_frame_equal(standard(read_binance_klines([path])), bars, check_freq=False)


def test_plain_csv_klines_are_read_too(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01-01.csv"
    path.write_text(kline_csv(bars.head(1440)))
    assert len(read_binance_klines([path])) == 1440


def test_many_daily_files_are_read_in_the_order_given(tmp_path: Path, bars: pd.DataFrame) -> None:
    day_two = write_kline_zip(tmp_path, bars.iloc[1440:], period="2024-01-02")
    day_one = write_kline_zip(tmp_path, bars.iloc[:1440], period="2024-01-01", microseconds=True)
    frame = read_binance_klines([day_two, day_one])
    assert frame["time"].iloc[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert len(frame) == len(bars)


@pytest.mark.parametrize(
    ("name", "symbol", "kind", "timeframe", "period"),
    [
        ("BTCUSDT-1m-2024-01.zip", "BTCUSDT", "klines", "1m", "2024-01"),
        ("ETHUSDT-4h-2024-02-15.zip", "ETHUSDT", "klines", "4h", "2024-02-15"),
        ("BTCUSDT-1mo-2024-01.csv", "BTCUSDT", "klines", "1M", "2024-01"),
        ("BTCUSDT-fundingRate-2024-03.zip", "BTCUSDT", "funding", None, "2024-03"),
    ],
)
def test_file_names_give_symbol_kind_timeframe_and_period(
    name: str, symbol: str, kind: str, timeframe: str | None, period: str
) -> None:
    parsed = parse_binance_name(Path(name))
    assert parsed is not None
    assert (parsed.symbol, parsed.kind, parsed.timeframe, parsed.period) == (
        symbol,
        kind,
        timeframe,
        period,
    )


def test_other_names_are_not_binance_files() -> None:
    assert parse_binance_name(Path("my-bars.csv")) is None


def test_checksum_files_are_verified(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = write_kline_zip(tmp_path, bars, period="2024-01", checksum=True)
    assert len(read_binance_klines([path])) == len(bars)
    path.with_name(path.name + ".CHECKSUM").write_text("0" * 64 + "  " + path.name + "\n")
    with pytest.raises(
        DataFileError,
        match=r"does not match its BTCUSDT-1m-2024-01\.zip\.CHECKSUM; download it again",
    ):
        read_binance_klines([path])


def test_truncated_zip_is_refused(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = write_kline_zip(tmp_path, bars, period="2024-01")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(DataFileError, match="not a valid zip file"):
        read_binance_klines([path])


def test_wrong_column_count_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("BTCUSDT-1m-2024-01.csv", "1704067200000,1,2,0.5,1.5\n")
    with pytest.raises(DataFileError, match="has 5 columns where a Binance file has 12"):
        read_binance_klines([path])


def test_bad_value_names_the_zip_member_and_row(tmp_path: Path, bars: pd.DataFrame) -> None:
    path = tmp_path / "BTCUSDT-1m-2024-01.zip"
    lines = kline_csv(bars.head(3)).splitlines()
    lines[2] = lines[2].replace(lines[2].split(",")[4], "oops", 1)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("BTCUSDT-1m-2024-01.csv", "\n".join(lines) + "\n")
    with pytest.raises(
        DataFileError,
        match=r"BTCUSDT-1m-2024-01\.zip/BTCUSDT-1m-2024-01\.csv: column close has the "
        r"non-numeric value 'oops' at row 3",
    ):
        read_binance_klines([path])


def test_funding_rate_files_read_times_and_rates(tmp_path: Path) -> None:
    path, expected = write_funding_zip(tmp_path)
    frame = read_binance_funding([path]).set_index("time")
    pd.testing.assert_series_equal(
        frame["funding_rate"], expected["funding_rate"], check_freq=False
    )
    assert (frame["funding_interval_hours"] == 8).all()
