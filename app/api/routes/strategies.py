"""Saved strategies: create, list, read, save (a new version each time), upload, delete."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile, status

from app.api.audit_trail import AuditDep
from app.api.deps import SessionDep, SettingsDep
from app.api.errors import UploadRefusedError
from app.api.routes.validate import diagnostics_out
from app.api.schemas import (
    MAX_ID,
    NO_NUL,
    ErrorOut,
    StrategyCreate,
    StrategyOut,
    StrategySummary,
    StrategyUpdate,
    StrategyUploaded,
    StrategyVersionOut,
)
from app.auth.audit import AuditAction
from app.db import StrategyRecord, StrategyVersionRecord, crud
from sandbox import StrategyRejected, inspect_source

router = APIRouter(tags=["strategies"])
READ_CHUNK = 64 * 1024
StrategyId = Annotated[int, Path(ge=1, le=MAX_ID)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}


def strategy_out(
    strategy: StrategyRecord,
    version: StrategyVersionRecord,
    versions: list[StrategyVersionRecord] | None = None,
) -> StrategyOut:
    """A strategy with the code of `version`."""
    return StrategyOut(
        id=strategy.id or 0,
        name=strategy.name,
        version=version.version,
        created_at=strategy.created_at,
        updated_at=strategy.updated_at,
        code=version.code,
        code_hash=version.code_hash,
        params=inspect_source(version.code).defaults,
        versions=[
            StrategyVersionOut(version=v.version, code_hash=v.code_hash, created_at=v.created_at)
            for v in versions or []
        ],
    )


@router.get("/api/strategies")
def list_strategies(session: SessionDep) -> list[StrategySummary]:
    """Every saved strategy, most recently saved first (without code)."""
    return [
        StrategySummary(
            id=s.id or 0,
            name=s.name,
            version=s.current_version,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )
        for s in crud.list_strategies(session)
    ]


@router.post("/api/strategies", status_code=status.HTTP_201_CREATED)
def create_strategy(body: StrategyCreate, session: SessionDep) -> StrategyOut:
    """Save a new strategy (version 1)."""
    strategy, version = crud.create_strategy(session, name=body.name, code=body.code)
    session.commit()
    return strategy_out(strategy, version, [version])


@router.get("/api/strategies/{strategy_id}", responses=NOT_FOUND)
def get_strategy(
    strategy_id: StrategyId,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_ID, description="A past version.")] = None,
) -> StrategyOut:
    """A strategy with its current code (or `version`'s) and the list of its versions."""
    strategy = crud.get_strategy(session, strategy_id=strategy_id)
    chosen = crud.get_strategy_version(session, strategy_id=strategy_id, version=version)
    versions = list(crud.list_strategy_versions(session, strategy_id=strategy_id))
    return strategy_out(strategy, chosen, versions)


@router.put("/api/strategies/{strategy_id}", responses=NOT_FOUND)
def update_strategy(
    strategy_id: StrategyId, body: StrategyUpdate, session: SessionDep
) -> StrategyOut:
    """Rename and/or save new code; new code becomes a new version, the old ones stay."""
    strategy, version = crud.update_strategy(
        session, strategy_id=strategy_id, name=body.name, code=body.code
    )
    session.commit()
    versions = list(crud.list_strategy_versions(session, strategy_id=strategy_id))
    return strategy_out(strategy, version, versions)


@router.delete(
    "/api/strategies/{strategy_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND
)
def delete_strategy(strategy_id: StrategyId, session: SessionDep, audit: AuditDep) -> Response:
    """Delete a strategy and all its versions; its runs stay (with their own code)."""
    crud.delete_strategy(session, strategy_id=strategy_id)
    session.commit()
    audit.record_now(AuditAction.DELETED, target=f"strategy {strategy_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/strategies/upload",
    status_code=status.HTTP_201_CREATED,
    responses={413: {"model": ErrorOut}, 415: {"model": ErrorOut}},
)
async def upload_strategy(
    file: Annotated[UploadFile, File(description="A .py strategy file (UTF-8).")],
    session: SessionDep,
    settings: SettingsDep,
    name: Annotated[str | None, Form(min_length=1, max_length=200, pattern=NO_NUL)] = None,
) -> StrategyUploaded:
    """Save an uploaded .py file as a new strategy; its diagnostics (warnings) come back with
    it. A file with errors is refused with its diagnostics (422) and nothing is stored. The
    same file (same name, same code as a strategy's current version) uploaded again answers
    that strategy instead of storing a duplicate."""
    code = await _read_upload(file, settings.upload_max_bytes)
    inspection = inspect_source(code, file.filename or "strategy.py")
    if not inspection.is_runnable:
        raise StrategyRejected(list(inspection.diagnostics))
    stem = PurePath(file.filename or "strategy.py").stem.replace("\x00", "")
    title = name or stem[:200] or "strategy"
    diagnostics = diagnostics_out(list(inspection.diagnostics))
    for existing in crud.list_strategies(session):
        if existing.name == title and existing.id is not None:
            current = crud.get_strategy_version(session, strategy_id=existing.id)
            if current.code == code:  # uploaded again: the stored one, no duplicate
                versions = list(crud.list_strategy_versions(session, strategy_id=existing.id))
                again = strategy_out(existing, current, versions)
                return StrategyUploaded(**again.model_dump(), diagnostics=diagnostics)
    strategy, version = crud.create_strategy(session, name=title, code=code)
    session.commit()
    saved = strategy_out(strategy, version, [version])
    return StrategyUploaded(**saved.model_dump(), diagnostics=diagnostics)


async def _read_upload(file: UploadFile, limit: int) -> str:
    if not (file.filename or "").lower().endswith(".py"):
        raise UploadRefusedError("upload a Python file ending in .py", status_code=415)
    data = bytearray()
    while chunk := await file.read(READ_CHUNK):
        data += chunk
        if len(data) > limit:
            raise UploadRefusedError(
                f"the file is larger than the {limit:,} byte limit", status_code=413
            )
    try:
        code = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UploadRefusedError("the file is not UTF-8 text", status_code=422) from None
    if "\x00" in code:
        raise UploadRefusedError(
            "the file holds NUL characters, so it is not text", status_code=422
        )
    return code
