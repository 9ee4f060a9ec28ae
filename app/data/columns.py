"""An OHLCV file read straight into numpy columns, a CSV streamed a block at a time.

A run needs the bars as six arrays (app.engine.MarketData), not as a DataFrame. Reading a CSV
whole (Arrow's `read_csv`, then a DataFrame, then the arrays) held the file's parsed blocks, the
table, the frame and the arrays at once: ~280 MB above the process for a million minute bars
(119 MB of text) against the 48 MB the six columns take. Here Arrow's streaming reader parses
the file in 1 MiB blocks, only the six columns the run uses, and each block's values are copied
into preallocated arrays and dropped: ~100 MB at the peak, 0.7 s against 1.1 s CPU.

The values are those `app.data.importers.read_ohlcv` gives for the same file, bit for bit
(both use Arrow's parsers; the tests compare them on many kinds of file). What the streaming
reader cannot read the same way (a time column of text it does not parse as times, a block
whose values do not fit the types the first block set, empty cells in the time column, a time
outside datetime64[ns]'s range, Parquet) goes through `read_ohlcv`, whose error messages users
see: this module never reports bad input itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
import pyarrow.types as pa_types

from app.data.importers import (
    CSV_SUFFIXES,
    TIME_COLUMN,
    EpochOutOfRange,
    epoch_nanoseconds,
    read_ohlcv,
    release_arrow_memory,
    standard_column_names,
)
from app.data.resample import OHLCV_COLUMNS
from app.data.store import columns_hash
from app.deferred_imports import deferred
from app.engine import MarketData

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

BLOCK_BYTES = 1 << 20
"""Bytes of CSV text Arrow parses at a time (1 MiB: ~8,800 minute bars). Larger blocks parse
no faster on two cores and raise the peak (4 MiB: +70 MB); smaller ones cost CPU."""
_ROW_SLACK = 1.05  # the row estimate from the first block, plus 5 %
_NS_PER = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


@dataclass(frozen=True, slots=True, eq=False)
class OhlcvColumns:
    """A file's bars as columns, stably sorted by time: bar open times in epoch ns (UTC) and
    float64 open, high, low, close, volume (NaN where a cell was empty), as `read_ohlcv`
    gives them; duplicate and missing bars are left for the market (or validation) to refuse."""

    time: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def __len__(self) -> int:
        return len(self.time)

    def numbers(self) -> dict[str, FloatArray]:
        """The number columns by name, in OHLCV order."""
        return {name: getattr(self, name) for name in OHLCV_COLUMNS}

    def content_hash(self) -> str:
        """The data's identity: `app.data.store.content_hash` of the same bars as a frame."""
        return columns_hash(self.time, self.numbers())

    def market(self, symbol: str) -> MarketData:
        """These bars as the engine's MarketData of `symbol` (the arrays are shared, not
        copied; MarketData makes them read-only). Raises MarketDataError as
        `MarketData.from_frame` does for the same bars."""
        return MarketData(
            time=self.time,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            symbol=symbol,
        )


def read_ohlcv_columns(path: Path, *, column_map: Mapping[str, str] | None = None) -> OhlcvColumns:
    """The bars of a CSV or Parquet OHLCV file as columns, the values `read_ohlcv` reads.

    A CSV is streamed (see the module docstring); any other file, and a CSV the streaming
    reader cannot read as `read_ohlcv` would, is read by `read_ohlcv` itself. Raises
    `DataFileError` as `read_ohlcv` does.
    """
    if path.name.lower().endswith(CSV_SUFFIXES) and path.is_file():
        streamed = stream_csv_columns(path, column_map or {})
        if streamed is not None:
            return streamed
    frame = read_ohlcv(path, column_map=column_map)
    times = np.asarray(pd.DatetimeIndex(frame.index).asi8, dtype=np.int64)
    numbers = {name: frame[name].to_numpy(dtype=np.float64) for name in OHLCV_COLUMNS}
    return OhlcvColumns(time=times, **numbers)


def stream_csv_columns(path: Path, column_map: Mapping[str, str]) -> OhlcvColumns | None:
    """A CSV's bars read a block at a time, or None when `read_ohlcv` must read it."""
    try:
        chosen = _chosen_columns(path, column_map)
        if chosen is None:
            return None
        columns = _read_blocks(path, chosen)
    except (pa.ArrowException, OSError, UnicodeDecodeError, EpochOutOfRange, OverflowError):
        return None
    finally:
        release_arrow_memory()
    return _sorted(columns) if columns is not None else None


def _chosen_columns(path: Path, column_map: Mapping[str, str]) -> list[str] | None:
    """The file's header names of time, open, high, low, close and volume, in that order (None
    when one is missing or two header names are the same once stripped)."""
    reader = pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES))
    names = list(reader.schema.names)
    reader.close()
    stripped = [name.strip() for name in names]
    if len(set(stripped)) != len(stripped):
        return None
    targets = standard_column_names(stripped, column_map)
    raw_names = dict(zip(stripped, names, strict=True))
    by_target = {target: raw_names[name] for name, target in targets.items()}
    wanted = (TIME_COLUMN, *OHLCV_COLUMNS)
    if any(name not in by_target for name in wanted):
        return None
    return [by_target[name] for name in wanted]


def _read_blocks(path: Path, chosen: list[str]) -> dict[str, npt.NDArray[np.generic]] | None:
    """The chosen columns of every block, copied into arrays grown as needed (an estimate from
    the first block's rows per byte: np.empty's untouched pages cost no memory)."""
    time_name, *number_names = chosen
    reader = pa_csv.open_csv(
        path,
        read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES),
        convert_options=pa_csv.ConvertOptions(
            include_columns=chosen, column_types=dict.fromkeys(number_names, pa.float64())
        ),
    )
    file_bytes = path.stat().st_size
    arrays: list[npt.NDArray[np.generic]] = []
    rows = 0
    try:
        for batch in reader:
            count = batch.num_rows
            if rows + count > (len(arrays[0]) if arrays else 0):
                estimate = int(file_bytes / BLOCK_BYTES * count * _ROW_SLACK) if not arrays else 0
                arrays = _grown(arrays, rows, max(estimate, 2 * (rows + count), 1_024))
            times = _block_times(batch.column(time_name))
            if times is None:
                return None
            arrays[0][rows : rows + count] = times
            for at, name in enumerate(number_names, start=1):
                arrays[at][rows : rows + count] = _floats(batch.column(name))
            rows += count
            del batch
    finally:
        reader.close()
    if rows == 0:
        return None
    return {
        name: array[:rows]
        for name, array in zip((TIME_COLUMN, *OHLCV_COLUMNS), arrays, strict=True)
    }


def _grown(
    arrays: list[npt.NDArray[np.generic]], rows: int, capacity: int
) -> list[npt.NDArray[np.generic]]:
    """Room for `capacity` rows, the first `rows` kept: time (int64) then five float64."""
    grown: list[npt.NDArray[np.generic]] = []
    for at in range(1 + len(OHLCV_COLUMNS)):
        array: npt.NDArray[np.generic] = np.empty(
            capacity, dtype=np.int64 if at == 0 else np.float64
        )
        if arrays:
            array[:rows] = arrays[at][:rows]
        grown.append(array)
    return grown


def _block_times(column: pa.Array) -> IntArray | None:
    """A block's bar times in epoch ns, as `read_ohlcv` reads them: Arrow's parsed times (naive
    ones are UTC) or epoch numbers (seconds to nanoseconds, by magnitude); None for anything
    else (text, empty cells) and for a time datetime64[ns] cannot hold."""
    kind = column.type
    if column.null_count:
        return None
    if pa_types.is_timestamp(kind):
        scale = _NS_PER[kind.unit]
        values = _ints(column)
        limit = np.iinfo(np.int64).max // scale
        if len(values) and (values.max() > limit or values.min() < -limit):
            return None
        ns: IntArray = values * scale
        return ns
    if pa_types.is_integer(kind) or pa_types.is_floating(kind):
        numbers = _floats(column)
        return epoch_nanoseconds(numbers)
    return None


def _floats(column: pa.Array) -> FloatArray:
    """A block's column of numbers as float64 (empty cells NaN): see _arrow_buffer."""
    data, offset = _arrow_buffer(column, pa.float64())
    return np.frombuffer(data, dtype=np.float64, count=len(column), offset=offset)


def _ints(column: pa.Array) -> IntArray:
    """A block's column of times (no empty cells: the caller refused those) as int64."""
    data, offset = _arrow_buffer(column, pa.int64())
    return np.frombuffer(data, dtype=np.int64, count=len(column), offset=offset)


def _arrow_buffer(column: pa.Array, kind: pa.DataType) -> tuple[pa.Buffer | bytes, int]:
    """The data buffer of `column` cast to `kind` (an 8-byte type), empty cells filled with
    NaN, and the byte offset of its first value: numpy then views Arrow's memory read-only.
    What `Array.to_numpy` gives, without it: to_numpy imports pandas (0.3 s, which a run's
    CLI process otherwise never spends)."""
    if column.type != kind:
        column = column.cast(kind)
    if column.null_count:
        column = pa_compute.fill_null(column, math.nan)
    data = column.buffers()[1]
    if data is None:  # no values to view (an empty column)
        return b"\0" * 8 * len(column), 0
    return data, column.offset * 8


def _sorted(columns: Mapping[str, npt.NDArray[np.generic]]) -> OhlcvColumns:
    """The columns stably sorted by time (what `read_ohlcv`'s mergesort does), untouched when
    already in order."""
    times = np.asarray(columns[TIME_COLUMN], dtype=np.int64)
    numbers = {name: np.asarray(columns[name], dtype=np.float64) for name in OHLCV_COLUMNS}
    if len(times) > 1 and bool(np.any(times[1:] < times[:-1])):
        order = np.argsort(times, kind="stable")
        times = times[order]
        numbers = {name: values[order] for name, values in numbers.items()}
    return OhlcvColumns(time=times, **numbers)
