"""GET /api/tiers: the maintenance-tier tables a run may name (shipped and imported)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.api.deps import CatalogDep
from app.data.tiers import TierCatalog

router = APIRouter(tags=["tiers"])


class TierTableOut(BaseModel):
    """One table: its name for `tiers` in POST /api/runs, where it came from, its size."""

    name: str
    exchange: str
    symbol: str
    snapshot_date: str
    source: str
    sha256: str
    brackets: int
    max_leverage: float
    is_stored: bool


def _listing(tiers: TierCatalog) -> list[TierTableOut]:
    stored = tiers.stored()
    return [
        TierTableOut(
            **table.identity(),
            max_leverage=table.tiers[0].max_leverage,
            is_stored=position < len(stored),
        )
        for position, table in enumerate(stored + tiers.shipped())
    ]


@router.get("/api/tiers")
async def list_tiers(catalog: CatalogDep) -> list[TierTableOut]:
    """Every tier table, imported ones first; a run without `tiers` uses its symbol's latest."""
    return await run_in_threadpool(_listing, catalog.tiers)
