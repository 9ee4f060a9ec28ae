"""CSV input goes through pyarrow's reader where it can: whatever the file's shape, the frame is
the one pandas' reader gives, so the faster path never changes a run's data."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pytest

from app.data import importers
from app.data.importers import parse_ohlcv_columns, read_ohlcv

ROWS: list[tuple[str, ...]] = [
    ("2023-01-01T00:00:00Z", "100.5", "101.25", "99.0", "100.0", "12.5"),
    ("2023-01-01T00:01:00Z", "100.0", "102.0", "99.5", "101.0", "0"),
    ("2023-01-01T00:02:00Z", "101.0", "101.5", "100.5", "0.30000000000000004", "7"),
]


def write(path: Path, header: str, rows: Sequence[Sequence[str]], *, sep: str = ",") -> Path:
    path.write_text(header + "\n" + "".join(sep.join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def pandas_frame(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, skipinitialspace=True)
    return importers.index_by_time(parse_ohlcv_columns(raw, path=path))


def with_times(times: list[str]) -> list[tuple[str, ...]]:
    return [(t, *row[1:]) for t, row in zip(times, ROWS, strict=True)]


SHAPES: dict[str, Sequence[Sequence[str]]] = {
    "iso_z": ROWS,
    "iso_offsets": with_times(
        ["2023-01-01T02:00:00+02:00", "2023-01-01 00:01:00+00:00", "2022-12-31T19:02:00-05:00"]
    ),
    "naive": with_times(["2023-01-01 00:00:00", "2023-01-01 00:01:00", "2023-01-01 00:02:00"]),
    "epoch_ms": with_times(["1672531200000", "1672531260000", "1672531320000"]),
    "epoch_s": with_times(["1672531200", "1672531260", "1672531320"]),
    "dates": with_times(["2023-01-01", "2023-01-02", "2023-01-03"]),
    "mixed_iso_and_epoch": with_times(["2023-01-01T00:00:00Z", "1672531260000", "1672531320"]),
    "unsorted": [ROWS[2], ROWS[0], ROWS[1]],
    "empty_cell": [ROWS[0], (ROWS[1][0], "", *ROWS[1][2:]), ROWS[2]],
    "spaces": [tuple(f" {cell}" for cell in row) for row in ROWS],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_csv_frame_equals_pandas_reader(tmp_path: Path, shape: str) -> None:
    path = write(tmp_path / "bars.csv", "time,open,high,low,close,volume", SHAPES[shape])
    pd.testing.assert_frame_equal(read_ohlcv(path), pandas_frame(path), check_exact=True)


def test_header_spelling_and_extra_columns_are_read_alike(tmp_path: Path) -> None:
    rows: list[tuple[str, ...]] = [(*row, "x") for row in ROWS]
    path = write(tmp_path / "bars.csv", " Timestamp, Open,HIGH,low ,close,Volume,note", rows)
    pd.testing.assert_frame_equal(read_ohlcv(path), pandas_frame(path), check_exact=True)


def test_duplicate_column_names_are_read_by_pandas(tmp_path: Path) -> None:
    rows: list[tuple[str, ...]] = [(*row, "1.0") for row in ROWS]
    path = write(tmp_path / "bars.csv", "time,open,high,low,close,volume,close", rows)
    assert importers._read_csv_with_arrow(path) is None
    pd.testing.assert_frame_equal(read_ohlcv(path), pandas_frame(path), check_exact=True)


def test_gzipped_csv_is_read(tmp_path: Path) -> None:
    plain = write(tmp_path / "bars.csv", "time,open,high,low,close,volume", ROWS)
    packed = tmp_path / "bars.csv.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    pd.testing.assert_frame_equal(read_ohlcv(packed), pandas_frame(plain), check_exact=True)


def test_well_formed_csv_takes_the_arrow_path(tmp_path: Path) -> None:
    path = write(tmp_path / "bars.csv", "time,open,high,low,close,volume", ROWS)
    frame = importers._read_csv_with_arrow(path)
    assert frame is not None and len(frame) == len(ROWS)
