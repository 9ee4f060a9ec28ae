"""GET /api/datasets: what a run can use (samples and stored versions)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from app.api.deps import CatalogDep
from app.api.schemas import DatasetOut

router = APIRouter(tags=["datasets"])


@router.get("/api/datasets")
async def list_datasets(catalog: CatalogDep) -> list[DatasetOut]:
    """Every dataset, with its range, size and the warnings found when it was imported."""
    entries = await run_in_threadpool(catalog.entries)
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
