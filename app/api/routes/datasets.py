"""GET /api/datasets: what a run can use (samples and stored versions)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from app.api.deps import CatalogDep, EngineDep
from app.api.schemas import DatasetOut
from app.data.catalog import DatasetEntry
from app.db.dataset_owners import visible_datasets
from app.db.session import session_scope

router = APIRouter(tags=["datasets"])


@router.get("/api/datasets")
async def list_datasets(catalog: CatalogDep, engine: EngineDep) -> list[DatasetOut]:
    """Every dataset the user may run on (samples, shared and their own), with its range,
    size and the warnings found when it was imported."""

    def visible() -> list[DatasetEntry]:
        with session_scope(engine) as session:
            return visible_datasets(session, catalog.entries())

    entries = await run_in_threadpool(visible)
    return [
        DatasetOut(
            name=e.name,
            symbol=e.symbol,
            timeframe=e.timeframe,
            source="sample" if e.source == "sample" else "store",
            version=e.version,
            rows=e.rows,
            first_bar=e.first_bar,
            last_bar=e.last_bar,
            content_hash=e.content_hash,
            warnings=list(e.warnings),
        )
        for e in entries
    ]
