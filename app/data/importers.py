"""Reading OHLCV files (generic CSV/Parquet) into typed, UTC-indexed frames, with clear errors."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from numpy.typing import NDArray

from app.data.errors import DataFileError
from app.data.resample import OHLCV_COLUMNS
from app.deferred_imports import deferred

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

logger = logging.getLogger(__name__)

TIME_COLUMN = "time"
CSV_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".txt")
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq")
_TIME_ALIASES: tuple[str, ...] = ("time", "timestamp", "date", "datetime", "open_time", "open time")
TIME_ALIASES = _TIME_ALIASES  # the header names read as the time column (shown by previews)
# Epoch magnitudes: below 1e11 is seconds (to year 5138), below 1e14 milliseconds, below 1e17
# microseconds, anything larger nanoseconds.
_EPOCH_LIMITS: tuple[tuple[float, int], ...] = (
    (1e11, 1_000_000_000),
    (1e14, 1_000_000),
    (1e17, 1_000),
)


def read_ohlcv(path: Path, *, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet OHLCV file into a sorted frame indexed by UTC bar open time.

    The file needs columns time, open, high, low, close, volume (names are case-insensitive;
    `timestamp`, `date`, `datetime` and `open_time` also name the time column, and
    `column_map` renames others, source name -> standard name). Time is ISO 8601 (naive
    means UTC) or epoch seconds/milliseconds/microseconds/nanoseconds, told apart by
    magnitude. Returns float64 columns open, high, low, close, volume and a
    `DatetimeIndex` named "time" in `datetime64[ns, UTC]`, stably sorted; duplicate and
    missing bars are left for `app.data.validation` to report.
    Raises `DataFileError` with one sentence naming the file for any bad input.
    """
    frame = index_by_time(load_ohlcv_frame(path, column_map=column_map))
    release_arrow_memory()  # the typing steps free Arrow-backed temporaries too
    return frame


def load_ohlcv_frame(path: Path, *, column_map: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and type an OHLCV file in file order, with `time` as a column (unsorted, as found).

    Used where the original order matters (validation reports unsorted rows); see `read_ohlcv`.
    """
    raw = read_table(path)
    return parse_ohlcv_columns(raw, path=path, column_map=column_map)


def index_by_time(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn a frame with a `time` column into the standard stably sorted, time-indexed shape."""
    ordered = frame.sort_values(TIME_COLUMN, kind="mergesort")
    indexed = ordered.set_index(TIME_COLUMN)
    return indexed[list(OHLCV_COLUMNS)]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file as it is, refusing missing, empty or unknown files."""
    if not path.exists():
        raise DataFileError(f"{path} does not exist; check the path.", path=path)
    if path.is_dir():
        raise DataFileError(f"{path} is a folder, not a data file; name a file.", path=path)
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        frame = _read_parquet(path)
    elif name.endswith(CSV_SUFFIXES):
        frame = _read_csv(path)
    else:
        known = ", ".join(CSV_SUFFIXES + PARQUET_SUFFIXES)
        message = f"{path} has an unknown file type; use one of {known}."
        raise DataFileError(message, path=path)
    if frame.empty:
        raise DataFileError(f"{path} has no rows of data; it is empty.", path=path)
    return frame


def _read_csv(path: Path) -> pd.DataFrame:
    """pyarrow's multi-threaded reader first (about 4x faster on a year of minute bars, and it
    parses ISO times while reading); pandas' reader for what pyarrow refuses or reads
    differently (duplicate column names), so its error messages stay the ones users see."""
    frame = _read_csv_with_arrow(path)
    if frame is not None:
        return frame
    try:
        return pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(f"{path} is empty; it has no header or rows.", path=path) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        first_line = str(exc).splitlines()[0].rstrip(".")
        message = f"{path} is not a readable CSV file ({first_line}); check its format."
        raise DataFileError(message, path=path) from exc


def _read_csv_with_arrow(path: Path) -> pd.DataFrame | None:
    try:
        table = pa_csv.read_csv(path)
    except (pa.ArrowException, OSError, UnicodeDecodeError):
        return None
    names = [name.strip() for name in table.column_names]
    if table.num_rows == 0 or len(set(names)) != len(names):
        return None
    # One block per column, each Arrow column freed as it is converted: no second copy of the
    # whole table at once.
    frame: pd.DataFrame = table.rename_columns(names).to_pandas(
        split_blocks=True, self_destruct=True
    )
    del table
    release_arrow_memory()
    return frame


def release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator keeps after a read back to the system.

    Its pool (mimalloc) keeps freed pages for reuse: after reading a year of minute bars it held
    about twice the data's size, which the rest of the run never used again."""
    pa.default_memory_pool().release_unused()


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame: pd.DataFrame = pq.read_table(path).to_pandas(split_blocks=True, self_destruct=True)
    except (pa.ArrowException, OSError) as exc:
        message = f"{path} is not a readable Parquet file; it may be truncated or not Parquet."
        raise DataFileError(message, path=path) from exc
    release_arrow_memory()
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.reset_index()
    return frame


def parse_ohlcv_columns(
    raw: pd.DataFrame, *, path: Path, column_map: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Select, rename and type the OHLCV columns of a raw table; rows keep their file order."""
    named = _standard_names(raw, column_map or {})
    missing = [name for name in (TIME_COLUMN, *OHLCV_COLUMNS) if name not in named.columns]
    if missing:
        found = ", ".join(str(name) for name in raw.columns)
        message = (
            f"{path} is missing the column(s) {', '.join(missing)} (found: {found}); "
            "rename them or pass a column mapping."
        )
        raise DataFileError(message, path=path, column=missing[0])
    parsed = pd.DataFrame(
        {TIME_COLUMN: parse_times(named[TIME_COLUMN], path=path)},
        index=pd.RangeIndex(len(named)),
    )
    for name in OHLCV_COLUMNS:
        parsed[name] = parse_numbers(named[name], path=path, column=name)
    return parsed


def _standard_names(raw: pd.DataFrame, column_map: Mapping[str, str]) -> pd.DataFrame:
    renamed = standard_column_names([str(column) for column in raw.columns], column_map)
    kept = raw.loc[:, [column for column in raw.columns if str(column) in renamed]]
    kept.columns = pd.Index([renamed[str(column)] for column in kept.columns])
    return kept


def standard_column_names(columns: Sequence[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """The standard name (`time`, `open`, ...) of each header name that gets one: names are
    case-insensitive, the time aliases name `time`, `column_map` renames (source -> standard
    name), the first column claiming a name wins, and an unnamed first column (a
    pandas-written index) is `time` when no other column is."""
    mapping = {str(key).strip().lower(): value for key, value in column_map.items()}
    renamed: dict[str, str] = {}
    for column in columns:
        key = column.strip().lower()
        target = mapping.get(key, key)
        if target in _TIME_ALIASES:
            target = TIME_COLUMN
        if target not in renamed.values():
            renamed[column] = target
    first = columns[0] if len(columns) else None
    if first is not None and TIME_COLUMN not in renamed.values() and _is_unnamed_index(first):
        renamed[first] = TIME_COLUMN  # a pandas-written index: backtesting.py's own CSV files
    return renamed


def _is_unnamed_index(name: str) -> bool:
    """True for the header of an index column `DataFrame.to_csv` wrote without a name: empty
    (",Open,High,...", pyarrow's reading) or pandas' "Unnamed: 0"."""
    return name.strip() in ("", "Unnamed: 0")


def parse_times(values: pd.Series, *, path: Path) -> pd.Series:
    """Parse bar times (ISO 8601 text, datetimes or epoch numbers) to `datetime64[ns, UTC]`."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values):
        _refuse_missing_times(values, path=path)
        return _as_utc_ns(pd.to_datetime(values, utc=True))
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.notna().all():
        return epoch_to_utc(numbers.to_numpy(dtype="float64"), path=path)
    _refuse_missing_times(values, path=path)
    text = values.astype("string").str.strip().where(numbers.isna())
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    bad = (parsed.isna() & numbers.isna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        message = (
            f"{path}: row {row + 1} has the time '{values.iloc[row]}', which is neither "
            "ISO 8601 nor an epoch number; fix or remove that row."
        )
        raise DataFileError(message, path=path, row=row + 1, column=TIME_COLUMN)
    if numbers.notna().any():
        numeric_rows = numbers.notna().to_numpy()
        epochs = epoch_to_utc(numbers[numeric_rows].to_numpy(dtype="float64"), path=path)
        parsed = _as_utc_ns(parsed)
        parsed[numeric_rows] = epochs.to_numpy()
        return parsed
    return _as_utc_ns(parsed)


def _refuse_missing_times(values: pd.Series, *, path: Path) -> None:
    missing = values.isna().to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0])
        message = f"{path}: row {row + 1} has no time; fill it in or remove that row."
        raise DataFileError(message, path=path, row=row + 1, column=TIME_COLUMN)


class EpochOutOfRange(ValueError):  # noqa: N818  (named for what it found)
    """An epoch time that is not finite or beyond datetime64[ns]'s range; `row` is its index."""

    def __init__(self, row: int) -> None:
        super().__init__(f"epoch time out of range at row {row}")
        self.row = row


def epoch_nanoseconds(numbers: NDArray[np.float64]) -> NDArray[np.int64]:
    """Epoch numbers as nanoseconds, choosing s/ms/µs/ns per value by its magnitude (see
    _EPOCH_LIMITS); EpochOutOfRange names the first value that is not finite or too large."""
    magnitude = np.abs(numbers)
    scale = np.ones(len(numbers), dtype="int64")
    for limit, factor in reversed(_EPOCH_LIMITS):
        scale[magnitude < limit] = factor
    if not np.all(np.isfinite(numbers)) or np.any(magnitude * scale > 9.2e18):
        raise EpochOutOfRange(
            int(np.flatnonzero(~np.isfinite(numbers) | (magnitude * scale > 9.2e18))[0])
        )
    nanoseconds: NDArray[np.int64] = np.rint(numbers).astype("int64") * scale
    return nanoseconds


def epoch_to_utc(numbers: NDArray[np.float64], *, path: Path) -> pd.Series:
    """Convert epoch numbers to UTC times, choosing s/ms/µs/ns per value by its magnitude."""
    try:
        nanoseconds = epoch_nanoseconds(numbers)
    except EpochOutOfRange as error:
        message = (
            f"{path}: row {error.row + 1} has an epoch time out of range; fix or remove that row."
        )
        raise DataFileError(message, path=path, row=error.row + 1, column=TIME_COLUMN) from None
    return pd.Series(pd.to_datetime(nanoseconds, unit="ns", utc=True))


def _as_utc_ns(values: pd.Series) -> pd.Series:
    converted: pd.Series = values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    return converted.reset_index(drop=True)


def parse_numbers(values: pd.Series, *, path: Path, column: str) -> pd.Series:
    """Convert a column to float64; empty cells become NaN, anything else unparsable is refused."""
    if pd.api.types.is_bool_dtype(values):
        message = f"{path}: column {column} holds true/false values, not numbers; fix the file."
        raise DataFileError(message, path=path, column=column)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64").reset_index(drop=True)
    text = values.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    bad = (numbers.isna() & text.notna() & (text != "")).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        message = (
            f"{path}: column {column} has the non-numeric value '{values.iloc[row]}' "
            f"at row {row + 1}; fix or remove that row."
        )
        raise DataFileError(message, path=path, row=row + 1, column=column)
    return numbers.astype("float64").reset_index(drop=True)
