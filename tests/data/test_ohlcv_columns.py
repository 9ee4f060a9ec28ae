"""A run's bars read straight into columns (app/data/columns.py) are the bars `read_ohlcv`
reads, bit for bit, with the same content hash, whatever the file's shape; what the streaming
reader cannot read the same way goes through `read_ohlcv`, with its error messages."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from app.data import columns as columns_module
from app.data.columns import read_ohlcv_columns, stream_csv_columns
from app.data.errors import DataFileError
from app.data.importers import read_ohlcv
from app.data.parquet import write_ohlcv_parquet
from app.data.store import content_hash
from app.engine import MarketData
from tests.data.test_csv_reader import ROWS, SHAPES, write

HEADER = "time,open,high,low,close,volume"
STREAMED_SHAPES = {"iso_z", "iso_offsets", "naive", "epoch_ms", "epoch_s", "unsorted"}
STREAMED_SHAPES |= {"empty_cell"}


def assert_same_bars(path: Path, column_map: dict[str, str] | None = None) -> None:
    columns = read_ohlcv_columns(path, column_map=column_map)
    frame = read_ohlcv(path, column_map=column_map)
    assert np.array_equal(columns.time, pd.DatetimeIndex(frame.index).asi8)
    for name, values in columns.numbers().items():
        expected = frame[name].to_numpy()
        assert values.dtype == np.float64
        assert np.array_equal(values.view(np.int64), expected.view(np.int64)), name  # bits
    assert columns.content_hash() == content_hash(frame)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_columns_are_read_ohlcvs_bars_for_every_shape(tmp_path: Path, shape: str) -> None:
    path = write(tmp_path / "bars.csv", HEADER, SHAPES[shape])
    assert_same_bars(path)
    is_streamed = stream_csv_columns(path, {}) is not None
    assert is_streamed == (shape in STREAMED_SHAPES), "text times go through read_ohlcv"


def test_header_spelling_extra_columns_and_a_mapping_are_read_alike(tmp_path: Path) -> None:
    rows = [("x", *row, "7") for row in ROWS]
    header = " Note ,Timestamp, OPEN ,High,low,Close,qty,volume"
    path = write(tmp_path / "bars.csv", header, [(*row[:6], row[6], row[6]) for row in rows])
    assert stream_csv_columns(path, {}) is not None
    assert_same_bars(path)
    renamed = write(tmp_path / "mapped.csv", "time,o,high,low,close,volume", ROWS)
    assert_same_bars(renamed, {"o": "open"})


def test_a_pandas_written_index_is_the_time_column(tmp_path: Path) -> None:
    path = write(tmp_path / "bars.csv", ",Open,High,Low,Close,Volume", ROWS)
    assert stream_csv_columns(path, {}) is not None
    assert_same_bars(path)


def test_a_file_of_many_blocks_is_read_whole(tmp_path: Path) -> None:
    """More than one 1 MiB block, a first block of whole numbers and later fractions (Arrow's
    streaming reader would fix int64 from the first block: the number columns are float64)."""
    times = pd.date_range("2023-01-01", periods=60_000, freq="min", tz="UTC")
    frame = pd.DataFrame(
        {"open": np.arange(60_000) + 100, "high": 200, "low": 50, "close": 150},
        index=pd.Index(times, name="time"),
    )
    frame["volume"] = np.where(np.arange(60_000) < 50_000, 1.0, 0.1 * np.arange(60_000))
    frame.to_csv(tmp_path / "bars.csv")
    assert (tmp_path / "bars.csv").stat().st_size > 2 * columns_module.BLOCK_BYTES
    assert stream_csv_columns(tmp_path / "bars.csv", {}) is not None
    assert_same_bars(tmp_path / "bars.csv")


def test_times_that_change_shape_after_the_first_block_go_through_read_ohlcv(
    tmp_path: Path,
) -> None:
    lines = [f"2023-01-01 {h:02d}:{m:02d}:00,1,2,0.5,1.5,3" for h in range(24) for m in range(60)]
    lines = lines * 40 + ["2023-01-02 00:00:00.5,1,2,0.5,1.5,3"]  # fractional seconds, late
    path = tmp_path / "bars.csv"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > columns_module.BLOCK_BYTES
    assert stream_csv_columns(path, {}) is None
    assert_same_bars(path)


def test_gzipped_csv_is_streamed(tmp_path: Path) -> None:
    plain = write(tmp_path / "bars.csv", HEADER, ROWS)
    packed = tmp_path / "bars.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert stream_csv_columns(packed, {}) is not None
    assert_same_bars(packed)


def test_parquet_is_read_by_read_ohlcv(tmp_path: Path) -> None:
    frame = read_ohlcv(write(tmp_path / "bars.csv", HEADER, ROWS))
    write_ohlcv_parquet(frame, tmp_path / "bars.parquet")
    assert_same_bars(tmp_path / "bars.parquet")


@pytest.mark.parametrize(
    ("header", "rows", "wording"),
    [
        ("time,open,high,low,close", [row[:5] for row in ROWS], "missing the column(s) volume"),
        (HEADER, [ROWS[0], ("2023-01-01T00:01:00Z", "abc", *ROWS[1][2:])], "non-numeric"),
        (HEADER, [ROWS[0], ("", *ROWS[1][1:])], "has no time"),
        (HEADER, [], "no rows"),
    ],
)
def test_bad_files_get_read_ohlcvs_sentence(
    tmp_path: Path, header: str, rows: list[tuple[str, ...]], wording: str
) -> None:
    path = write(tmp_path / "bars.csv", header, rows)
    with pytest.raises(DataFileError) as error:
        read_ohlcv(path)
    with pytest.raises(DataFileError) as columns_error:
        read_ohlcv_columns(path)
    assert wording in str(columns_error.value)
    assert str(columns_error.value) == str(error.value)


def test_the_market_shares_the_columns_and_equals_the_frames(tmp_path: Path) -> None:
    path = write(tmp_path / "bars.csv", HEADER, SHAPES["unsorted"])
    columns = read_ohlcv_columns(path)
    market = columns.market("ETHUSDT")
    expected = MarketData.from_frame(read_ohlcv(path), symbol="ETHUSDT")
    assert market.symbol == "ETHUSDT" and market.close is columns.close
    for name in ("time", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(market, name), getattr(expected, name))
    assert not market.close.flags.writeable


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pa.array([1.5, None, 3.25, 4.0]).slice(1), pa.float64()),
        (pa.array([None, None], pa.float64()), pa.float64()),
        (pa.array([], pa.float64()), pa.float64()),
        (pa.array([7, 8, 9], pa.int32()).slice(1), pa.float64()),
        (pa.array([1, 2, 3], pa.timestamp("ms")).slice(2), pa.int64()),
    ],
)
def test_a_blocks_numbers_are_arrows_own_values(column: pa.Array, kind: pa.DataType) -> None:
    """The streaming reader reads Arrow's buffers itself (Array.to_numpy imports pandas)."""
    is_int = kind == pa.int64()
    values = columns_module._ints(column) if is_int else columns_module._floats(column)
    expected = column.cast(kind).to_numpy(zero_copy_only=False).astype(values.dtype)
    assert values.dtype == (np.int64 if is_int else np.float64)
    assert np.array_equal(values, expected, equal_nan=True)
