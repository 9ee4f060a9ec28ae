"""The on-disk OHLCV Parquet format: one schema, zstd, row groups sized for fast range reads."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from app.data.errors import DataFileError
from app.data.resample import OHLCV_COLUMNS
from app.deferred_imports import deferred

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

# About three weeks of 1m bars per row group: a one-month read touches two or three groups.
ROW_GROUP_ROWS = 32_768
COMPRESSION = "zstd"


def series_table(frame: pd.DataFrame) -> pa.Table:
    """Convert a time-indexed frame of numeric columns into an Arrow table: `time` then floats."""
    times = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns")
    fields = [pa.field("time", pa.timestamp("ns", tz="UTC"), nullable=False)]
    arrays = [pa.array(times.asi8, type=pa.int64()).cast(fields[0].type)]
    for name in frame.columns:
        fields.append(pa.field(str(name), pa.float64()))
        arrays.append(pa.array(frame[name].to_numpy(dtype="float64")))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_ohlcv_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a standard OHLCV frame to `path` atomically; same frame, same bytes."""
    write_series_parquet(frame[list(OHLCV_COLUMNS)], path)


def write_series_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a time-indexed frame of numeric columns to `path` atomically, byte-reproducibly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = series_table(frame)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    try:
        pq.write_table(
            table,
            temporary,
            row_group_size=ROW_GROUP_ROWS,
            compression=COMPRESSION,
            write_statistics=True,
            # Prices rarely repeat, so dictionaries only cost time; bar times are evenly
            # spaced, which delta encoding stores in a few bits each (about half the size).
            use_dictionary=False,
            column_encoding={"time": "DELTA_BINARY_PACKED"},
        )
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
    finally:
        Path(temporary).unlink(missing_ok=True)


def read_series_parquet(
    path: Path,
    *,
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Read rows with `start <= time < end` (either bound optional) from a store Parquet file.

    Only the row groups whose `time` min/max statistics overlap the range are read and
    decoded (rows are stored in time order), then the rows are cut to the exact range.
    """
    low = _utc(start).value if start is not None else None
    high = _utc(end).value if end is not None else None
    try:
        parquet = pq.ParquetFile(path)
        groups = overlapping_row_groups(parquet.metadata, low, high)
        table = parquet.read_row_groups(groups) if groups else parquet.schema_arrow.empty_table()
    except (pa.ArrowException, OSError) as exc:
        message = f"{path} is not a readable Parquet file; it may be truncated or not Parquet."
        raise DataFileError(message, path=path) from exc
    if low is not None or high is not None:
        times = table.column("time").cast(pa.int64()).to_numpy()
        inside = np.ones(len(times), dtype=bool)
        if low is not None:
            inside &= times >= low
        if high is not None:
            inside &= times < high
        table = table.filter(pa.array(inside))
    return frame_from_table(table)


def overlapping_row_groups(
    metadata: pq.FileMetaData, low_ns: int | None, high_ns: int | None
) -> list[int]:
    """Indexes of row groups whose `time` statistics overlap `[low_ns, high_ns)`."""
    time_column = metadata.schema.names.index("time")
    chosen = []
    for group in range(metadata.num_row_groups):
        statistics = metadata.row_group(group).column(time_column).statistics
        if statistics is None or not statistics.has_min_max:
            chosen.append(group)
            continue
        first, last = pd.Timestamp(statistics.min).value, pd.Timestamp(statistics.max).value
        if (high_ns is None or first < high_ns) and (low_ns is None or last >= low_ns):
            chosen.append(group)
    return chosen


def frame_from_table(table: pa.Table) -> pd.DataFrame:
    """Convert an Arrow table (`time` plus float columns) into a time-indexed frame."""
    frame: pd.DataFrame = table.to_pandas()
    times = pd.DatetimeIndex(frame.pop("time"), name="time")
    frame.index = times.tz_convert("UTC").as_unit("ns")
    return frame


def _utc(moment: pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
