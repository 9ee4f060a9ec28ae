"""POST/DELETE /api/datasets/uploads: a dataset file checked before it is stored.

`POST /api/datasets/uploads` stages a file (multipart, streamed to disk under its own body
limit, `Settings.dataset_upload_max_bytes`) with the options of `strategylab data import`, and
answers its validation report without storing anything; `POST .../{id}/store` stores it as
the dataset's next version through the same import as the CLI and makes the user its owner;
`DELETE .../{id}` discards it. Uploads are the sender's alone: another user's id is a 404.
"""

from __future__ import annotations

import shutil
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Path, Request, Response, UploadFile, status
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from app.api.audit_trail import AuditDep
from app.api.dataset_upload_schemas import DatasetStoredOut, DatasetUploadOut, UploadProblemOut
from app.api.deps import CatalogDep, CurrentUserDep, SessionDep, SettingsDep
from app.api.errors import UploadRefusedError
from app.api.quota_gate import QuotaGate
from app.api.schemas import DatasetOut, ErrorOut
from app.auth import Principal
from app.auth.audit import AuditAction
from app.data.catalog import DatasetCatalog
from app.data.datasets import FileFormat
from app.data.errors import DataError
from app.data.problems import ValidationReport
from app.data.store import DatasetKind, DatasetMeta, DatasetStore
from app.data.uploads import (
    StagedUpload,
    UploadArea,
    UploadCheck,
    UploadInputError,
    UploadOptions,
    check_upload,
    parse_column_map,
    staged_file_name,
    store_upload,
)
from app.db.accounts import DatasetOwnerRecord
from app.db.dataset_owners import claim_dataset
from app.db.errors import RecordNotFoundError
from app.db.ownership import every_owner
from app.db.session import session_scope
from app.engine.types import Mode
from app.jobs.quotas import MIB, QuotaExceededError, storage_bytes
from app.settings import Settings

DATASET_UPLOADS_PATH = "/api/datasets/uploads"
UPLOADS_FOLDER = "uploads"  # under the data dir, one folder per user
COPY_CHUNK_BYTES = 1024 * 1024

router = APIRouter(tags=["datasets"])


def get_upload_area(settings: SettingsDep) -> UploadArea:
    """The staging area of uploads under the data dir."""
    return UploadArea(settings.data_dir / UPLOADS_FOLDER)


UploadAreaDep = Annotated[UploadArea, Depends(get_upload_area)]
UploadId = Annotated[str, Path(max_length=64, description="The id POST answered.")]


@router.post(
    DATASET_UPLOADS_PATH,
    status_code=status.HTTP_201_CREATED,
    responses={413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
)
async def create_upload(
    file: Annotated[UploadFile, File(description="CSV (.csv, .csv.gz), Parquet or Binance zip.")],
    user: CurrentUserDep,
    area: UploadAreaDep,
    symbol: Annotated[str, Form(max_length=40, description="From Binance names if empty.")] = "",
    timeframe: Annotated[str, Form(max_length=20, description="Inferred if empty.")] = "",
    exchange: Annotated[str, Form(max_length=40, description="Where the data came from.")] = (
        "unknown"
    ),
    market: Annotated[Mode, Form(description="spot or futures.")] = Mode.SPOT,
    file_format: Annotated[FileFormat, Form(alias="format", description="How to read it.")] = (
        FileFormat.AUTO
    ),
    column_map: Annotated[
        list[str], Form(alias="map", description="SOURCE=TARGET pairs, comma-separated.")
    ] = [],  # noqa: B006 -- FastAPI copies form defaults per request
    replace: Annotated[bool, Form(description="The new version holds only this file.")] = False,
    mark: Annotated[bool, Form(description="Mark-price klines (stored as mark-TF).")] = False,
) -> DatasetUploadOut:
    """Stage a dataset file and answer its validation report (rows, range, gaps,
    duplicates, problems, the columns found and how they are read); nothing is stored until
    `POST .../{id}/store`. A file that cannot be read at all is refused (422) and discarded."""
    try:
        file_name = staged_file_name(file.filename)
        options = UploadOptions(
            symbol=symbol.strip(),
            timeframe=timeframe.strip(),
            exchange=exchange.strip() or "unknown",
            market=market,
            file_format=file_format,
            column_map=parse_column_map(column_map),
            is_replace=replace,
            is_mark=mark,
        )
    except UploadInputError as error:
        status_code = 415 if error.field == "file" else 422
        raise UploadRefusedError(
            f"{error.field}: {error.message}", status_code=status_code
        ) from None
    staged = await run_in_threadpool(area.begin, user.user_id, file_name, options)
    try:
        await run_in_threadpool(_copy_to, file, staged)
        check = await run_in_threadpool(check_upload, staged)
    except DataError as error:
        area.discard(staged)
        raise UploadRefusedError(_without_folder(str(error), staged), status_code=422) from None
    except BaseException:
        area.discard(staged)
        raise
    return _upload_out(staged, check)


def _copy_to(file: UploadFile, staged: StagedUpload) -> None:
    """Copy the received file (spooled to disk by the multipart parser) in chunks."""
    file.file.seek(0)
    with staged.path.open("wb") as out:
        shutil.copyfileobj(file.file, out, COPY_CHUNK_BYTES)


def _without_folder(message: str, staged: StagedUpload) -> str:
    """A data error names the staged path; the user knows the file by its own name."""
    return message.replace(str(staged.path), staged.file_name)


@router.post(
    f"{DATASET_UPLOADS_PATH}/{{upload_id}}/store",
    responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
async def store_staged_upload(
    request: Request,
    upload_id: UploadId,
    user: CurrentUserDep,
    area: UploadAreaDep,
    session: SessionDep,
    catalog: CatalogDep,
    settings: SettingsDep,
    audit: AuditDep,
) -> DatasetStoredOut:
    """Store a staged upload as its dataset's next version (extending the latest unless it
    was sent with `replace`), exactly as `strategylab data import`; the user becomes the
    dataset's owner. Fatal problems or a missing field refuse it (422) and keep the upload."""
    staged = await run_in_threadpool(_staged_or_404, area, user, upload_id)
    gate: QuotaGate | None = getattr(request.app.state, "quotas", None)
    if gate is not None:
        await run_in_threadpool(_refuse_over_storage, gate, user.user_id)
    check = await run_in_threadpool(check_upload, staged)
    if check.missing:
        raise UploadRefusedError(f"{check.missing[0]}, then check again", status_code=422)
    store = _store(settings)
    key = check.dataset_key or ""
    is_shared = _refuse_unless_theirs(session, store, check, user, key)
    try:
        outcome = await run_in_threadpool(store_upload, store, staged, check)
    except DataError as error:  # fatal problems, or rows that contradict the stored version
        raise UploadRefusedError(_without_folder(str(error), staged), status_code=422) from None
    meta = outcome.meta
    if not is_shared:  # an admin extending an operator's dataset leaves it shared
        claim_dataset(session, key=f"{meta.symbol}/{meta.timeframe}", owner_id=user.user_id)
        session.commit()
    area.discard(staged)
    detail = {"version": meta.version, "rows": meta.rows, "file": staged.file_name}
    await audit.record(AuditAction.DATASET_IMPORTED, target=f"dataset {meta.ref}", detail=detail)
    return DatasetStoredOut(
        dataset=_dataset_out(catalog, meta),
        is_new_version=outcome.is_new_version,
        summary=outcome.report.summary(),
    )


@router.delete(
    f"{DATASET_UPLOADS_PATH}/{{upload_id}}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"model": ErrorOut}},
)
async def discard_upload(
    upload_id: UploadId, user: CurrentUserDep, area: UploadAreaDep
) -> Response:
    """Discard a staged upload; nothing was stored."""
    staged = await run_in_threadpool(_staged_or_404, area, user, upload_id)
    await run_in_threadpool(area.discard, staged)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _staged_or_404(area: UploadArea, user: Principal, upload_id: str) -> StagedUpload:
    staged = area.get(user.user_id, upload_id)
    if staged is None:
        raise RecordNotFoundError("dataset upload", f"{upload_id} (uploads expire after 1 h)")
    return staged


def _refuse_over_storage(gate: QuotaGate, user_id: int) -> None:
    """The storage quota, as for a new run: a user at their limit stores nothing more."""
    limit_mb = gate.limits(user_id).storage_mb
    with session_scope(gate.engine) as session:
        used = storage_bytes(session, user_id=user_id, runs_dir=gate.runs_dir, catalog=gate.catalog)
    if used >= limit_mb * MIB:
        raise QuotaExceededError(
            "storage_mb",
            used=used / MIB,
            limit=limit_mb,
            message=f"your run folders and datasets take {used / MIB:,.1f} MiB, your limit is "
            f"{limit_mb:,} MiB: delete runs or datasets you no longer need, then store again",
        )


def _store(settings: Settings) -> DatasetStore:
    return DatasetStore(settings.data_dir / "store")


def _owner_of(session: Session, key: str) -> int | None:
    owner: int | None = session.exec(
        select(DatasetOwnerRecord.owner_id).where(col(DatasetOwnerRecord.name) == key),
        execution_options=every_owner(),
    ).first()
    return owner


def _refuse_unless_theirs(
    session: Session, store: DatasetStore, check: UploadCheck, user: Principal, key: str
) -> bool:
    """A user may add versions only to their own datasets or new ones: a dataset already
    stored that nobody claimed is the operator's, shared read-only (an admin may extend it;
    it stays shared: True is returned). Funding and mark series go with every bars dataset of
    their symbol, so only the owner of all those (or an admin) may add one."""
    symbol, _, timeframe = key.partition("/")
    owner = _owner_of(session, key)
    if owner is not None and owner != user.user_id:
        message = f"{key} belongs to another user; store it under another symbol"
        raise UploadRefusedError(message, status_code=409)
    is_shared = owner is None and bool(store.versions(symbol, timeframe))
    if is_shared and not user.is_admin:
        message = f"{key} is a shared dataset, read-only; store it under another symbol"
        raise UploadRefusedError(message, status_code=409)
    if check.kind is DatasetKind.OHLCV or user.is_admin:
        return is_shared
    bars = {
        f"{meta.symbol}/{meta.timeframe}"
        for meta in store.datasets()
        if meta.symbol == symbol and meta.kind is DatasetKind.OHLCV
    }
    if not bars or any(_owner_of(session, name) != user.user_id for name in bars):
        message = (
            f"{check.kind} series of {symbol} apply to every {symbol} bars dataset, so only "
            f"the owner of all of them may add one; import your {symbol} bars first"
        )
        raise UploadRefusedError(message, status_code=409)
    return is_shared


def _dataset_out(catalog: DatasetCatalog, meta: DatasetMeta) -> DatasetOut:
    warnings = [problem.message for problem in meta.validation.warnings]
    if meta.kind is DatasetKind.OHLCV:
        warnings = list(catalog.resolve(str(meta.ref)).warnings)
    return DatasetOut(
        name=str(meta.ref),
        symbol=meta.symbol,
        timeframe=meta.timeframe,
        source="store",
        version=meta.version,
        rows=meta.rows,
        first_bar=meta.first_bar,
        last_bar=meta.last_bar,
        content_hash=meta.content_hash,
        warnings=warnings,
    )


def _problems_out(report: ValidationReport) -> list[UploadProblemOut]:
    return [UploadProblemOut.model_validate(problem.to_dict()) for problem in report.problems]


def _upload_out(staged: StagedUpload, check: UploadCheck) -> DatasetUploadOut:
    return DatasetUploadOut(
        id=staged.upload_id,
        file_name=staged.file_name,
        size_bytes=staged.size_bytes,
        expires_at=staged.expires_at,
        dataset=check.dataset_key,
        symbol=check.symbol,
        timeframe=check.timeframe,
        kind=check.kind.value,
        rows=check.rows,
        first_bar=check.first_bar,
        last_bar=check.last_bar,
        gap_bars=check.gap_bars,
        duplicate_bars=check.duplicate_bars,
        summary=check.report.summary(),
        problems=_problems_out(check.report),
        columns=list(check.columns),
        mapping=dict(check.mapping),
        missing=list(check.missing),
        is_storable=check.is_storable,
    )
