"""read_ohlcv: CSV and Parquet in, a typed UTC frame out, one clear sentence for bad input."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.data.errors import DataError, DataFileError
from app.data.importers import read_ohlcv

HEADER = "time,open,high,low,close,volume\n"


def write(tmp_path: Path, text: str, name: str = "bars.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_reads_iso_csv_into_sorted_utc_float_frame(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "2024-01-01T00:01:00Z,2,3,1,2.5,7\n2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n",
    )
    frame = read_ohlcv(path)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index.name == "time"
    assert str(frame.index.dtype) == "datetime64[ns, UTC]"
    assert frame.index.is_monotonic_increasing
    assert (frame.dtypes == "float64").all()
    assert frame.loc[pd.Timestamp("2024-01-01T00:00Z"), "close"] == 1.5


@pytest.mark.parametrize(
    ("epoch", "unit"),
    [
        (1704067200, "s"),
        (1704067200000, "ms"),
        (1704067200000000, "us"),
        (1704067200000000000, "ns"),
    ],
)
def test_epoch_times_are_read_in_the_unit_their_magnitude_shows(
    tmp_path: Path, epoch: int, unit: str
) -> None:
    path = write(tmp_path, HEADER + f"{epoch},1,2,0.5,1.5,10\n")
    assert read_ohlcv(path).index[0] == pd.Timestamp("2024-01-01", tz="UTC"), unit


def test_naive_iso_times_are_taken_as_utc_and_offsets_converted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "2024-01-01 00:00,1,2,0.5,1.5,10\n2024-01-01T02:01:00+02:00,1,2,0.5,1.5,10\n",
    )
    assert list(read_ohlcv(path).index) == [
        pd.Timestamp("2024-01-01 00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 00:01", tz="UTC"),
    ]


def test_column_names_are_case_insensitive_and_timestamp_is_an_alias(tmp_path: Path) -> None:
    path = write(tmp_path, "Timestamp,Open,HIGH,low,Close,Volume\n1704067200000,1,2,0.5,1.5,10\n")
    assert read_ohlcv(path)["high"].iloc[0] == 2.0


def test_column_map_renames_source_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "t,o,h,l,c,v\n1704067200000,1,2,0.5,1.5,10\n")
    mapping = {"t": "time", "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}
    assert read_ohlcv(path, column_map=mapping)["volume"].iloc[0] == 10.0


def test_reads_parquet_with_time_as_column_or_index(tmp_path: Path, bars: pd.DataFrame) -> None:
    bars.head(5).to_parquet(tmp_path / "indexed.parquet")
    bars.head(5).reset_index().to_parquet(tmp_path / "column.parquet")
    for name in ("indexed.parquet", "column.parquet"):
        frame = read_ohlcv(tmp_path / name)
        pd.testing.assert_frame_equal(frame, bars.head(5), check_freq=False)


def test_missing_file_is_named_in_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nope\.csv does not exist; check the path\.$"):
        read_ohlcv(tmp_path / "nope.csv")


def test_unknown_extension_lists_the_known_ones(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER, name="bars.xlsx")
    with pytest.raises(
        DataFileError, match=r"bars\.xlsx has an unknown file type; use one of \.csv"
    ):
        read_ohlcv(path)


def test_missing_columns_are_listed(tmp_path: Path) -> None:
    path = write(tmp_path, "time,open,close\n1704067200000,1,2\n")
    with pytest.raises(DataFileError, match=r"missing the column\(s\) high, low, volume") as caught:
        read_ohlcv(path)
    assert caught.value.column == "high"


def test_unparsable_time_names_its_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-01T00:00Z,1,2,0.5,1.5,10\nyesterday,1,2,0.5,1.5,10\n")
    with pytest.raises(DataFileError, match=r"row 2 has the time 'yesterday'") as caught:
        read_ohlcv(path)
    assert caught.value.row == 2


def test_non_numeric_value_names_column_and_row(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "1704067200000,1,2,0.5,1.5,10\n1704067260000,1,2,abc,1.5,10\n")
    with pytest.raises(
        DataFileError, match=r"column low has the non-numeric value 'abc' at row 2"
    ) as caught:
        read_ohlcv(path)
    assert (caught.value.row, caught.value.column) == (2, "low")


@pytest.mark.parametrize("text", ["", HEADER])
def test_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataFileError, match="empty"):
        read_ohlcv(write(tmp_path, text))


def test_corrupt_parquet_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "not parquet at all", name="bars.parquet")
    with pytest.raises(DataFileError, match="not a readable Parquet file"):
        read_ohlcv(path)


def test_empty_cells_become_nan_for_validation_to_report(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "1704067200000,1,2,0.5,1.5,\n")
    assert read_ohlcv(path)["volume"].isna().all()


def test_file_errors_share_the_package_base_error() -> None:
    assert issubclass(DataFileError, DataError)
