"""Dataset files uploaded to the server, staged per user until stored or discarded.

An upload lives in `<data dir>/uploads/<owner id>/<upload id>/`: the file under its own
(sanitised) name, so Binance names still tell the symbol and timeframe, and `upload.json`
with the import options it was sent with. It is checked with the same reading and validation
as `strategylab data import`, and stored through the same `import_files`; nothing reaches the
dataset store before the user asks. An upload expires `ttl_s` seconds after it was made
(default one hour); expired uploads are removed whenever the area is used, and a user keeps
at most `MAX_STAGED_PER_USER` (a new upload discards that user's oldest), so abandoned checks
cannot fill the disk.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from app.data.datasets import (
    FileFormat,
    ImportOutcome,
    LoadedFiles,
    import_files,
    infer_timeframe,
    read_files,
    validate_rows,
)
from app.data.importers import PARQUET_SUFFIXES, TIME_ALIASES, TIME_COLUMN
from app.data.problems import ProblemCode, ValidationReport
from app.data.resample import OHLCV_COLUMNS, canonical_timeframe
from app.data.store import (
    FUNDING_TIMEFRAME,
    DatasetKind,
    DatasetSpec,
    DatasetStore,
    mark_timeframe,
    normalise_symbol,
)
from app.engine.types import Mode

logger = logging.getLogger(__name__)

UPLOAD_TTL_S = 3600.0
MAX_STAGED_PER_USER = 4  # a user's older uploads beyond this are discarded by a new one
UPLOAD_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".txt", ".zip", ".parquet", ".pq")
_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_UNSAFE_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")
_META_FILE = "upload.json"
_MAX_NAME_LENGTH = 200


class UploadInputError(ValueError):
    """An upload's name or options are unusable; `field` names the form field at fault."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


@dataclass(frozen=True, slots=True)
class UploadOptions:
    """How to read and store an uploaded file: the options of `strategylab data import`."""

    symbol: str = ""
    timeframe: str = ""
    exchange: str = "unknown"
    market: Mode = Mode.SPOT
    file_format: FileFormat = FileFormat.AUTO
    column_map: Mapping[str, str] = field(default_factory=dict)
    is_replace: bool = False
    is_mark: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (see `from_dict`)."""
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "exchange": self.exchange,
            "market": self.market.value,
            "file_format": self.file_format.value,
            "column_map": dict(self.column_map),
            "is_replace": self.is_replace,
            "is_mark": self.is_mark,
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> UploadOptions:
        """Rebuild options from `to_dict` output."""
        return cls(
            symbol=str(record["symbol"]),
            timeframe=str(record["timeframe"]),
            exchange=str(record["exchange"]),
            market=Mode(record["market"]),
            file_format=FileFormat(record["file_format"]),
            column_map={str(k): str(v) for k, v in dict(record["column_map"]).items()},
            is_replace=bool(record["is_replace"]),
            is_mark=bool(record["is_mark"]),
        )


@dataclass(frozen=True, slots=True)
class StagedUpload:
    """One staged file: who sent it, where it is, when it expires (UTC), how to import it."""

    upload_id: str
    owner_id: int
    file_name: str
    folder: Path
    created_at: datetime
    expires_at: datetime
    options: UploadOptions

    @property
    def path(self) -> Path:
        """The staged file itself."""
        return self.folder / self.file_name

    @property
    def size_bytes(self) -> int:
        """The staged file's size (0 while it is still being written)."""
        return self.path.stat().st_size if self.path.is_file() else 0


@dataclass(frozen=True, slots=True)
class UploadCheck:
    """What an import of a staged file would store, and the validation report of its rows.

    `missing` lists what must still be given (a sentence each) before it can be stored;
    `columns` is the file's header as found and `mapping` which of them are read as which
    standard column (time, open, high, low, close, volume)."""

    symbol: str | None
    timeframe: str | None
    kind: DatasetKind
    rows: int
    first_bar: datetime | None
    last_bar: datetime | None
    report: ValidationReport
    columns: tuple[str, ...]
    mapping: Mapping[str, str]
    missing: tuple[str, ...]

    @property
    def dataset_key(self) -> str | None:
        """`SYMBOL/TIMEFRAME` the data would be stored as, when both are known."""
        if self.symbol is None or self.timeframe is None:
            return None
        return f"{self.symbol}/{self.timeframe}"

    @property
    def is_storable(self) -> bool:
        """True when nothing is missing and no problem refuses the import."""
        return not self.missing and not self.report.is_fatal

    @property
    def gap_bars(self) -> int:
        """Bars missing inside the range, over all gaps."""
        return _count(self.report, (ProblemCode.GAP,))

    @property
    def duplicate_bars(self) -> int:
        """Bars whose time appears more than once (equal or conflicting)."""
        codes = (ProblemCode.DUPLICATE_BARS, ProblemCode.CONFLICTING_DUPLICATES)
        return _count(self.report, codes)


def _count(report: ValidationReport, codes: Iterable[ProblemCode]) -> int:
    wanted = set(codes)
    return sum(problem.count for problem in report.problems if problem.code in wanted)


def parse_column_map(entries: Iterable[str]) -> dict[str, str]:
    """`SOURCE=TARGET` pairs (each entry may hold several, separated by commas or new lines),
    as `strategylab data import --map` takes them; `UploadInputError` names a bad pair."""
    mapping: dict[str, str] = {}
    for entry in entries:
        for pair in re.split(r"[,\n]", entry):
            if not pair.strip():
                continue
            source, equals, target = pair.partition("=")
            if not equals or not source.strip() or not target.strip():
                message = f"the column mapping takes SOURCE=TARGET pairs, not '{pair.strip()}'"
                raise UploadInputError("map", message)
            mapping[source.strip()] = target.strip()
    return mapping


def staged_file_name(name: str | None) -> str:
    """The name an uploaded file is staged under: its last path part, with characters other
    than letters, digits, '.', '_' and '-' replaced; refused unless a known data file type."""
    base = PurePath((name or "").replace("\\", "/")).name.strip()
    safe = _UNSAFE_NAME_CHARACTERS.sub("_", base).lstrip(".")[-_MAX_NAME_LENGTH:]
    if not safe.lower().endswith(UPLOAD_SUFFIXES):
        known = ", ".join(UPLOAD_SUFFIXES)
        raise UploadInputError("file", f"upload a data file ending in one of {known}")
    return safe


class UploadArea:
    """The staging folders of uploads, one folder per user (`root/<owner id>/<upload id>`)."""

    def __init__(
        self, root: Path, *, ttl_s: float = UPLOAD_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = root
        self.ttl_s = ttl_s
        self._clock = clock

    def begin(self, owner_id: int, file_name: str, options: UploadOptions) -> StagedUpload:
        """A new, empty staged upload of `owner_id`; the caller writes the file to its path."""
        self.purge_expired()
        self._make_room(owner_id)
        upload_id = secrets.token_hex(16)
        folder = self.root / str(owner_id) / upload_id
        folder.mkdir(parents=True)
        now = self._clock()
        record = {"file_name": file_name, "created_at": now, "options": options.to_dict()}
        (folder / _META_FILE).write_text(json.dumps(record))
        return self._staged(upload_id, owner_id, folder, record)

    def get(self, owner_id: int, upload_id: str) -> StagedUpload | None:
        """`owner_id`'s upload `upload_id`, or None when it is not theirs, gone or expired."""
        self.purge_expired()
        if not _UPLOAD_ID.fullmatch(upload_id):
            return None
        folder = self.root / str(owner_id) / upload_id
        record = _read_record(folder)
        if record is None:
            return None
        return self._staged(upload_id, owner_id, folder, record)

    def discard(self, staged: StagedUpload) -> None:
        """Remove a staged upload and its file (nothing happens if it is gone already)."""
        shutil.rmtree(staged.folder, ignore_errors=True)

    def purge_expired(self) -> int:
        """Remove every upload older than `ttl_s`, of any user; how many were removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        deadline = self._clock() - self.ttl_s
        for folder in self.root.glob("*/*"):
            if _created_at(folder) < deadline:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    def _make_room(self, owner_id: int) -> None:
        folders = [folder for folder in (self.root / str(owner_id)).glob("*") if folder.is_dir()]
        if len(folders) < MAX_STAGED_PER_USER:
            return
        folders.sort(key=_created_at)
        for folder in folders[: len(folders) - MAX_STAGED_PER_USER + 1]:
            shutil.rmtree(folder, ignore_errors=True)

    def _staged(
        self, upload_id: str, owner_id: int, folder: Path, record: Mapping[str, Any]
    ) -> StagedUpload:
        created = float(record["created_at"])
        return StagedUpload(
            upload_id=upload_id,
            owner_id=owner_id,
            file_name=str(record["file_name"]),
            folder=folder,
            created_at=datetime.fromtimestamp(created, UTC),
            expires_at=datetime.fromtimestamp(created + self.ttl_s, UTC),
            options=UploadOptions.from_dict(record["options"]),
        )


def _created_at(folder: Path) -> float:
    """When an upload was made (epoch s); its folder's time when its record is unreadable."""
    record = _read_record(folder)
    if record is not None:
        return float(record["created_at"])
    try:
        return folder.stat().st_mtime
    except OSError:
        return 0.0


def _read_record(folder: Path) -> dict[str, Any] | None:
    try:
        record: dict[str, Any] = json.loads((folder / _META_FILE).read_text())
    except (OSError, ValueError):
        return None
    return record


def check_upload(staged: StagedUpload) -> UploadCheck:
    """Read and validate a staged file as `strategylab data import` would, storing nothing.

    Raises the data layer's `DataError` (one sentence) when the file cannot be read at all."""
    options = staged.options
    loaded = _read(staged)
    symbol_text = options.symbol or loaded.symbol
    symbol = normalise_symbol(symbol_text) if symbol_text else None
    missing: list[str] = []
    if symbol is None:
        missing.append("the symbol is not in the file name; fill in the symbol")
    timeframe = _store_timeframe(loaded, options, missing)
    gap_timeframe = None if loaded.kind is DatasetKind.FUNDING else timeframe
    if gap_timeframe is not None:
        gap_timeframe = gap_timeframe.removeprefix("mark-")
    report = validate_rows(loaded.frame, kind=loaded.kind, timeframe=gap_timeframe)
    times = pd.to_datetime(loaded.frame["time"], utc=True)
    columns = detected_columns(staged.path)
    return UploadCheck(
        symbol=symbol,
        timeframe=timeframe,
        kind=loaded.kind,
        rows=len(loaded.frame),
        first_bar=times.min().to_pydatetime() if len(times) else None,
        last_bar=times.max().to_pydatetime() if len(times) else None,
        report=report,
        columns=columns,
        mapping=column_mapping(columns, options.column_map),
        missing=tuple(missing),
    )


def _read(staged: StagedUpload) -> LoadedFiles:
    options = staged.options
    return read_files(
        [staged.path],
        file_format=options.file_format,
        column_map=options.column_map,
        kind=DatasetKind.MARK if options.is_mark else None,
    )


def _store_timeframe(loaded: LoadedFiles, options: UploadOptions, missing: list[str]) -> str | None:
    if loaded.kind is DatasetKind.FUNDING:
        return FUNDING_TIMEFRAME
    text = options.timeframe or loaded.timeframe
    if not text:
        if len(loaded.frame) < 2:
            missing.append("one bar is too little to tell the timeframe; fill in the timeframe")
            return None
        text = infer_timeframe(loaded.frame)
    if loaded.kind is DatasetKind.MARK:
        return mark_timeframe(text)
    return canonical_timeframe(text)


def detected_columns(path: Path) -> tuple[str, ...]:
    """The header of a staged CSV or Parquet file, as found (empty for zip archives)."""
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return tuple(pq.read_schema(path).names)
    if name.endswith(".zip"):
        return ()
    try:
        header = pd.read_csv(path, nrows=0, skipinitialspace=True)
    except (ValueError, UnicodeDecodeError, OSError):  # read already by the importer: display only
        return ()
    return tuple(str(column) for column in header.columns)


def column_mapping(columns: Iterable[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Which found columns are read as which standard column, as `app.data.importers` reads
    them: names case-insensitive, the mapping first, time's aliases, the first of each kept."""
    mapping = {key.strip().lower(): value.strip().lower() for key, value in column_map.items()}
    standard = (TIME_COLUMN, *OHLCV_COLUMNS)
    found = list(columns)
    used: dict[str, str] = {}
    for column in found:
        key = column.strip().lower()
        target = mapping.get(key, key)
        target = TIME_COLUMN if target in TIME_ALIASES else target
        if target in standard and target not in used.values():
            used[column] = target
    is_unnamed_index = bool(found) and found[0].strip() in ("", "Unnamed: 0")
    if is_unnamed_index and TIME_COLUMN not in used.values():
        used[found[0]] = TIME_COLUMN  # a pandas-written index, as the importer reads it
    return used


def store_upload(store: DatasetStore, staged: StagedUpload, check: UploadCheck) -> ImportOutcome:
    """Import a checked staged file as its dataset's next version (the CLI's `import_files`).

    Raises `ValidationFailedError` (nothing stored) when a problem is fatal."""
    options = staged.options
    timeframe = (check.timeframe or "").removeprefix("mark-")
    spec = DatasetSpec(
        symbol=check.symbol or "",
        timeframe="" if check.kind is DatasetKind.FUNDING else timeframe,
        exchange=options.exchange,
        market=options.market,
        source=f"upload {staged.file_name}",
    )
    return import_files(
        store,
        [staged.path],
        spec,
        file_format=options.file_format,
        column_map=options.column_map,
        replace=options.is_replace,
        kind=DatasetKind.MARK if options.is_mark else None,
    )
