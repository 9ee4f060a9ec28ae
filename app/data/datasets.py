"""Dataset operations over the store: import files (new or extending versions), resample, check."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import replace as with_changes
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from app.data.binance import parse_binance_name, read_binance_funding, read_binance_klines
from app.data.errors import DataFileError, InvalidReferenceError, ValidationFailedError
from app.data.importers import load_ohlcv_frame
from app.data.problems import ValidationReport
from app.data.resample import canonical_timeframe, resample_ohlcv, timeframe_name
from app.data.store import (
    FUNDING_TIMEFRAME,
    MARK_PREFIX,
    DatasetKind,
    DatasetMeta,
    DatasetRef,
    DatasetSpec,
    DatasetStore,
    SaveResult,
    mark_timeframe,
    normalise_symbol,
)
from app.data.validation import ValidationRules, validate_funding, validate_ohlcv
from app.deferred_imports import deferred

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]  # (files done, files total)


class FileFormat(StrEnum):
    """How to read input files: by their names (auto), as Binance files, or generic OHLCV."""

    AUTO = "auto"
    BINANCE = "binance"
    GENERIC = "generic"


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    """What an import did: the version now current, the input's report, whether it is new."""

    meta: DatasetMeta
    report: ValidationReport
    is_new_version: bool


@dataclass(frozen=True, slots=True)
class LoadedFiles:
    """Rows read from input files (in file order) and what their names told about them."""

    frame: pd.DataFrame
    kind: DatasetKind
    symbol: str | None
    timeframe: str | None


def expand_paths(paths: Sequence[Path]) -> list[Path]:
    """Files named directly, plus the data files inside named folders, in name order."""
    expanded: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [p for p in sorted(path.iterdir()) if _is_data_file(p)]
            if not found:
                raise DataFileError(f"{path} holds no CSV, zip or Parquet files.", path=path)
            expanded.extend(found)
        else:
            expanded.append(path)
    return expanded


def _is_data_file(path: Path) -> bool:
    name = path.name.lower()
    return path.is_file() and name.endswith((".csv", ".csv.gz", ".zip", ".parquet", ".pq"))


def read_files(
    paths: Sequence[Path],
    *,
    file_format: FileFormat = FileFormat.AUTO,
    column_map: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    kind: DatasetKind | None = None,
) -> LoadedFiles:
    """Read one or many files of one dataset; Binance names give the symbol and timeframe.

    `kind` MARK reads kline files as mark-price bars (Binance names `markPriceKlines` files
    like its klines, so only the caller can tell them apart)."""
    files = expand_paths(paths)
    if not files:
        raise DataFileError("no files were given to read.", path=Path())
    names = [parse_binance_name(path) for path in files]
    is_binance = file_format is FileFormat.BINANCE or (
        file_format is FileFormat.AUTO and all(name is not None for name in names)
    )
    kinds = {name.kind for name in names if name is not None}
    found = DatasetKind.FUNDING if is_binance and kinds == {"funding"} else DatasetKind.OHLCV
    if kind is DatasetKind.MARK and found is DatasetKind.FUNDING:
        raise DataFileError("funding-rate files are not mark-price bars.", path=files[0])
    kind = DatasetKind.MARK if kind is DatasetKind.MARK else found
    frames = []
    for done, path in enumerate(files, start=1):
        frames.append(_read_one(path, is_binance, kind, column_map))
        if progress is not None:
            progress(done, len(files))
    symbols = {name.symbol for name in names if name is not None}
    timeframes = {name.timeframe for name in names if name is not None and name.timeframe}
    return LoadedFiles(
        frame=pd.concat(frames, ignore_index=True),
        kind=kind,
        symbol=symbols.pop() if len(symbols) == 1 else None,
        timeframe=timeframes.pop() if len(timeframes) == 1 else None,
    )


def _read_one(
    path: Path, is_binance: bool, kind: DatasetKind, column_map: Mapping[str, str] | None
) -> pd.DataFrame:
    if not is_binance:
        return load_ohlcv_frame(path, column_map=column_map)
    if kind is DatasetKind.FUNDING:
        return read_binance_funding([path])
    return read_binance_klines([path])


def infer_timeframe(frame: pd.DataFrame) -> str:
    """The most common spacing between bars, as a timeframe name (`1m`, `1h`...)."""
    times = pd.DatetimeIndex(pd.to_datetime(frame["time"], utc=True)).sort_values().unique()
    spacing = pd.Series(times[1:] - times[:-1])
    if spacing.empty:
        raise DataFileError("one bar is too little to tell the timeframe; pass it.", path=Path())
    return timeframe_name(spacing.mode().iloc[0])


def validate_rows(
    frame: pd.DataFrame,
    *,
    kind: DatasetKind = DatasetKind.OHLCV,
    timeframe: str | None = None,
    rules: ValidationRules | None = None,
) -> ValidationReport:
    """Validate rows as read from files (a `time` column in file order)."""
    if kind is DatasetKind.FUNDING:
        return validate_funding(frame)
    if kind is DatasetKind.MARK:  # a mark price trades nothing: its volume is always 0
        base = rules or ValidationRules()
        rules = with_changes(
            base, min_zero_volume_run=max(len(frame) + 1, base.min_zero_volume_run)
        )
    return validate_ohlcv(frame, timeframe=timeframe, rules=rules)


def import_rows(
    store: DatasetStore,
    frame: pd.DataFrame,
    spec: DatasetSpec,
    *,
    replace: bool = False,
    rules: ValidationRules | None = None,
) -> ImportOutcome:
    """Validate rows and store them as the dataset's next version.

    By default the new rows extend the latest version (bars at times it lacks are added;
    equal bars are merged; a bar that differs from the stored one is fatal). With `replace`
    the version holds only the new rows. Fatal problems raise `ValidationFailedError` and
    nothing is written.
    """
    report = validate_rows(frame, kind=spec.kind, timeframe=_gap_timeframe(spec), rules=rules)
    _refuse_if_fatal(report, "the data")
    incoming = _clean(frame)
    previous = None if replace else _latest(store, spec)
    combined = incoming
    if previous is not None:
        existing = store.load(previous).reset_index()
        merged = pd.concat([existing, incoming.reset_index()], ignore_index=True)
        merge_report = validate_rows(merged, kind=spec.kind, timeframe=_gap_timeframe(spec))
        _refuse_if_fatal(merge_report, f"the data combined with {previous.ref}")
        combined = _clean(merged)
    stored_report = validate_rows(
        combined.reset_index(), kind=spec.kind, timeframe=_gap_timeframe(spec), rules=rules
    )
    result: SaveResult = store.save(
        combined,
        spec,
        validation=stored_report,
        parent_version=previous.version if previous is not None else None,
    )
    return ImportOutcome(result.meta, report, result.is_new_version)


def _gap_timeframe(spec: DatasetSpec) -> str | None:
    if spec.kind is DatasetKind.FUNDING:
        return None
    return spec.timeframe.removeprefix(MARK_PREFIX)


def _latest(store: DatasetStore, spec: DatasetSpec) -> DatasetMeta | None:
    if spec.kind is DatasetKind.FUNDING:
        timeframe = FUNDING_TIMEFRAME
    elif spec.kind is DatasetKind.MARK:
        timeframe = mark_timeframe(spec.timeframe)
    else:
        timeframe = canonical_timeframe(spec.timeframe)
    versions = store.versions(normalise_symbol(spec.symbol), timeframe)
    return versions[-1] if versions else None


def _refuse_if_fatal(report: ValidationReport, what: str) -> None:
    if report.is_fatal:
        first = report.fatal[0]
        message = f"{what} has {report.summary()}, so it was not imported: {first.message}."
        raise ValidationFailedError(message, report=report)


def _clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Sorted by time (stable), exact duplicates dropped, indexed by time."""
    ordered = frame.sort_values("time", kind="mergesort")
    unique = ordered.drop_duplicates(subset="time", keep="first")
    return unique.set_index("time")


def import_files(
    store: DatasetStore,
    paths: Sequence[Path],
    spec: DatasetSpec,
    *,
    file_format: FileFormat = FileFormat.AUTO,
    column_map: Mapping[str, str] | None = None,
    replace: bool = False,
    progress: ProgressCallback | None = None,
    kind: DatasetKind | None = None,
) -> ImportOutcome:
    """Read files (see `read_files`) and import them as the next version of `spec`'s dataset.

    An empty `spec.symbol` / `spec.timeframe` is taken from Binance file names or, for the
    timeframe, from the bar spacing.
    """
    loaded = read_files(
        paths, file_format=file_format, column_map=column_map, progress=progress, kind=kind
    )
    symbol = spec.symbol or loaded.symbol
    if not symbol:
        raise DataFileError("the symbol is not in the file names; pass --symbol.", path=paths[0])
    if loaded.kind is DatasetKind.FUNDING:
        timeframe = FUNDING_TIMEFRAME
    else:
        timeframe = spec.timeframe or loaded.timeframe or infer_timeframe(loaded.frame)
        if loaded.kind is DatasetKind.MARK:
            timeframe = mark_timeframe(timeframe)
    source = spec.source or ", ".join(path.name for path in expand_paths(paths))
    full_spec = DatasetSpec(
        symbol=symbol,
        timeframe=timeframe,
        exchange=spec.exchange,
        market=spec.market,
        kind=loaded.kind,
        source=source,
    )
    return import_rows(store, loaded.frame, full_spec, replace=replace)


def resample_dataset(
    store: DatasetStore, reference: DatasetRef | str, timeframe: str
) -> ImportOutcome:
    """Resample a stored OHLCV version to `timeframe` and store it as that timeframe's dataset."""
    meta = store.resolve(reference)
    if meta.kind is not DatasetKind.OHLCV:
        message = f"{meta.ref} is a {meta.kind} series; only OHLCV datasets can be resampled."
        raise InvalidReferenceError(message)
    bars = resample_ohlcv(store.load(meta), timeframe)
    spec = DatasetSpec(
        symbol=meta.symbol,
        timeframe=timeframe,
        exchange=meta.exchange,
        market=meta.market,
        source=f"resampled from {meta.ref} ({meta.content_hash})",
    )
    return import_rows(store, bars.reset_index(), spec, replace=True)
