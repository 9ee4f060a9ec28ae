"""The versioned dataset store: immutable Parquet versions with JSON metadata under one folder.

Layout: `<root>/<SYMBOL>/<timeframe>/v0001.parquet` beside `v0001.json` (its metadata record).
A version is never rewritten; importing newer data makes the next version.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from app.data.errors import DatasetNotFoundError, InvalidReferenceError
from app.data.parquet import read_series_parquet, write_series_parquet
from app.data.problems import ValidationReport, format_time
from app.data.resample import canonical_timeframe
from app.deferred_imports import deferred
from app.engine.types import Mode

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

logger = logging.getLogger(__name__)

FUNDING_TIMEFRAME = "funding"
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._-]*$")
_VERSION_FILE = re.compile(r"^v(?P<version>[0-9]{4,})\.json$")


class DatasetKind(StrEnum):
    """What a dataset holds: OHLCV bars, a funding-rate series, or mark-price bars."""

    OHLCV = "ohlcv"
    FUNDING = "funding"
    MARK = "mark"


MARK_PREFIX = "mark-"
"""Mark-price bars are stored as the timeframe `mark-<timeframe>` of their symbol."""


def mark_timeframe(timeframe: str) -> str:
    """The store timeframe of mark-price bars of `timeframe`: `1m` -> `mark-1m`."""
    return MARK_PREFIX + canonical_timeframe(timeframe.removeprefix(MARK_PREFIX))


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """Names a dataset as `SYMBOL/TIMEFRAME` (latest version) or `SYMBOL/TIMEFRAME@N`."""

    symbol: str
    timeframe: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> DatasetRef:
        """Parse `BTCUSDT/1m`, `BTCUSDT/1m@3`, `BTCUSDT/1m@v3` or `BTC/USDT/1h`."""
        body, _, version_text = text.strip().partition("@")
        symbol, slash, timeframe = body.rpartition("/")
        if not slash or not symbol or not timeframe:
            message = f"'{text}' is not a dataset reference; write SYMBOL/TIMEFRAME[@VERSION]."
            raise InvalidReferenceError(message)
        version = _parse_version(version_text, text) if version_text else None
        return cls(normalise_symbol(symbol), _store_timeframe(timeframe), version)

    def __str__(self) -> str:
        base = f"{self.symbol}/{self.timeframe}"
        return base if self.version is None else f"{base}@{self.version}"


def _parse_version(text: str, reference: str) -> int:
    digits = text.lower().removeprefix("v")
    if not digits.isdigit() or int(digits) < 1:
        raise InvalidReferenceError(f"'{reference}' has a bad version; versions are 1, 2, 3...")
    return int(digits)


def _store_timeframe(text: str) -> str:
    if text.strip().lower() == FUNDING_TIMEFRAME:
        return FUNDING_TIMEFRAME
    if text.strip().lower().startswith(MARK_PREFIX):
        return mark_timeframe(text.strip()[len(MARK_PREFIX) :])
    return canonical_timeframe(text)


def normalise_symbol(text: str) -> str:
    """Upper-case a symbol and drop ccxt's separators: `btc/usdt` and `BTC/USDT:USDT` -> BTCUSDT."""
    symbol = text.strip().upper().split(":", 1)[0].replace("/", "")
    if not _SYMBOL.match(symbol):
        message = f"'{text}' is not a usable symbol; use letters, digits, '.', '_' or '-'."
        raise InvalidReferenceError(message)
    return symbol


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """What a new dataset version is: its key and where its data came from."""

    symbol: str
    timeframe: str
    exchange: str = "unknown"
    market: Mode = Mode.SPOT
    kind: DatasetKind = DatasetKind.OHLCV
    source: str = ""


@dataclass(frozen=True, slots=True)
class DatasetMeta:
    """The metadata record of one stored version, as written to its JSON file."""

    symbol: str
    timeframe: str
    version: int
    kind: DatasetKind
    exchange: str
    market: Mode
    first_bar: datetime | None
    last_bar: datetime | None
    rows: int
    content_hash: str
    source: str
    created_at: datetime
    validation: ValidationReport
    parent_version: int | None = None

    @property
    def ref(self) -> DatasetRef:
        """The exact reference of this version, e.g. `BTCUSDT/1m@3`; runs record it."""
        return DatasetRef(self.symbol, self.timeframe, self.version)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with ISO 8601 UTC times."""
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "version": self.version,
            "kind": self.kind.value,
            "exchange": self.exchange,
            "market": self.market.value,
            "first_bar": format_time(self.first_bar) if self.first_bar else None,
            "last_bar": format_time(self.last_bar) if self.last_bar else None,
            "rows": self.rows,
            "content_hash": self.content_hash,
            "source": self.source,
            "created_at": format_time(self.created_at),
            "parent_version": self.parent_version,
            "validation": self.validation.to_dict(),
        }

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> DatasetMeta:
        """Rebuild a record from `to_dict` output."""
        first, last = record.get("first_bar"), record.get("last_bar")
        return cls(
            symbol=record["symbol"],
            timeframe=record["timeframe"],
            version=int(record["version"]),
            kind=DatasetKind(record["kind"]),
            exchange=record["exchange"],
            market=Mode(record["market"]),
            first_bar=pd.Timestamp(first) if first else None,
            last_bar=pd.Timestamp(last) if last else None,
            rows=int(record["rows"]),
            content_hash=record["content_hash"],
            source=record["source"],
            created_at=pd.Timestamp(record["created_at"]),
            validation=ValidationReport.from_dict(record.get("validation", [])),
            parent_version=record.get("parent_version"),
        )


@dataclass(frozen=True, slots=True)
class SaveResult:
    """The version a save produced, and whether it is new (False: identical to the latest)."""

    meta: DatasetMeta
    is_new_version: bool


def content_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a time-indexed frame's values: times (int64 ns) then each float64 column.

    Independent of the Parquet encoding, so equal data always has the same hash.
    """
    digest = hashlib.sha256()
    times = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns")
    digest.update(np.ascontiguousarray(times.asi8, dtype="<i8").tobytes())
    for name in frame.columns:
        digest.update(str(name).encode("utf-8") + b"\0")
        digest.update(np.ascontiguousarray(frame[name].to_numpy(dtype="<f8")).tobytes())
    return f"sha256:{digest.hexdigest()}"


def columns_hash(times_ns: npt.ArrayLike, columns: Mapping[str, npt.ArrayLike]) -> str:
    """`content_hash` of the frame these columns make (times as its index, one column per
    name, in order): the same bytes hashed in place, without copying a column."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(times_ns, dtype="<i8").data)
    for name, values in columns.items():
        digest.update(name.encode("utf-8") + b"\0")
        digest.update(np.ascontiguousarray(values, dtype="<f8").data)
    return f"sha256:{digest.hexdigest()}"


@dataclass(frozen=True, slots=True)
class DatasetStore:
    """Datasets under `root` (normally `<data dir>/store`); every method reads the disk afresh."""

    root: Path

    def datasets(self) -> list[DatasetMeta]:
        """Every stored version of every dataset, by symbol, timeframe, then version."""
        records = [
            meta
            for folder in sorted(self.root.glob("*/*"))
            if folder.is_dir()
            for meta in self._versions_in(folder)
        ]
        return sorted(records, key=lambda m: (m.symbol, m.timeframe, m.version))

    def versions(self, symbol: str, timeframe: str) -> list[DatasetMeta]:
        """The stored versions of one dataset, oldest first (empty when there are none)."""
        return self._versions_in(self._folder(symbol, timeframe))

    def resolve(self, reference: DatasetRef | str) -> DatasetMeta:
        """The metadata of a reference's version (latest when none is named)."""
        ref = DatasetRef.parse(reference) if isinstance(reference, str) else reference
        versions = self.versions(ref.symbol, ref.timeframe)
        if not versions:
            raise DatasetNotFoundError(
                f"there is no dataset {ref.symbol}/{ref.timeframe}; see `strategylab data list`.",
                reference=str(ref),
            )
        if ref.version is None:
            return versions[-1]
        for meta in versions:
            if meta.version == ref.version:
                return meta
        known = ", ".join(str(meta.version) for meta in versions)
        raise DatasetNotFoundError(
            f"dataset {ref.symbol}/{ref.timeframe} has no version {ref.version} (has {known}).",
            reference=str(ref),
        )

    def load(
        self,
        reference: DatasetRef | str | DatasetMeta,
        *,
        start: pd.Timestamp | None = None,
        end: pd.Timestamp | None = None,
    ) -> pd.DataFrame:
        """Read a version's rows with `start <= time < end`, decoding only the row groups needed."""
        meta = reference if isinstance(reference, DatasetMeta) else self.resolve(reference)
        return read_series_parquet(self.data_path(meta), start=start, end=end)

    def save(
        self,
        frame: pd.DataFrame,
        spec: DatasetSpec,
        *,
        validation: ValidationReport,
        parent_version: int | None = None,
    ) -> SaveResult:
        """Store a sorted, time-indexed frame as the dataset's next version.

        When its content equals the latest version's, nothing is written and that version is
        returned with `is_new_version=False`.
        """
        symbol, timeframe = normalise_symbol(spec.symbol), _store_timeframe(spec.timeframe)
        digest = content_hash(frame)
        existing = self.versions(symbol, timeframe)
        if existing and existing[-1].content_hash == digest:
            return SaveResult(existing[-1], is_new_version=False)
        folder = self._folder(symbol, timeframe)
        version = self._reserve_version(folder, existing[-1].version + 1 if existing else 1)
        meta = DatasetMeta(
            symbol=symbol,
            timeframe=timeframe,
            version=version,
            kind=spec.kind,
            exchange=spec.exchange,
            market=spec.market,
            first_bar=frame.index[0] if len(frame) else None,
            last_bar=frame.index[-1] if len(frame) else None,
            rows=len(frame),
            content_hash=digest,
            source=spec.source,
            created_at=datetime.now(UTC),
            validation=validation,
            parent_version=parent_version,
        )
        write_series_parquet(frame, self.data_path(meta))
        _write_json_atomically(self._meta_path(folder, version), meta.to_dict())
        logger.info("stored dataset ref=%s rows=%d", meta.ref, meta.rows)
        return SaveResult(meta, is_new_version=True)

    def delete(self, reference: DatasetRef | str) -> list[DatasetMeta]:
        """Delete one version (when named) or every version of a dataset; return what went."""
        ref = DatasetRef.parse(reference) if isinstance(reference, str) else reference
        doomed = [self.resolve(ref)] if ref.version is not None else self.versions(*_key(ref))
        if not doomed:
            self.resolve(ref)  # raises the not-found error
        for meta in doomed:
            folder = self._folder(meta.symbol, meta.timeframe)
            self._meta_path(folder, meta.version).unlink(missing_ok=True)
            self.data_path(meta).unlink(missing_ok=True)
        return doomed

    def data_path(self, meta: DatasetMeta) -> Path:
        """The Parquet file of a version."""
        return self._folder(meta.symbol, meta.timeframe) / f"v{meta.version:04d}.parquet"

    def _folder(self, symbol: str, timeframe: str) -> Path:
        # Months are `1M` and minutes `1m`: spell months `1mo` so case-insensitive disks differ.
        folder_name = timeframe[:-1] + "mo" if timeframe.endswith("M") else timeframe
        return self.root / symbol / folder_name

    @staticmethod
    def _meta_path(folder: Path, version: int) -> Path:
        return folder / f"v{version:04d}.json"

    def _reserve_version(self, folder: Path, first_candidate: int) -> int:
        """Claim a version number by creating its metadata file exclusively (race-safe)."""
        folder.mkdir(parents=True, exist_ok=True)
        version = first_candidate
        while True:
            try:
                handle = os.open(self._meta_path(folder, version), os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                version += 1
                continue
            os.close(handle)
            return version

    def _versions_in(self, folder: Path) -> list[DatasetMeta]:
        records = []
        for path in sorted(folder.glob("v*.json")):
            if not _VERSION_FILE.match(path.name):
                continue
            try:
                records.append(DatasetMeta.from_dict(json.loads(path.read_text("utf-8"))))
            except (ValueError, KeyError):
                logger.debug("skipping unfinished or unreadable record path=%s", path)
        return sorted(records, key=lambda meta: meta.version)


def _key(ref: DatasetRef) -> tuple[str, str]:
    return ref.symbol, ref.timeframe


def _write_json_atomically(path: Path, record: dict[str, Any]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(record, stream, indent=2, sort_keys=True)
        stream.write("\n")
    Path(temporary).chmod(0o644)
    Path(temporary).replace(path)
