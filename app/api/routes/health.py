"""GET /api/health: is the server up, and with what."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import EngineDep, SettingsDep
from app.api.schemas import Health
from app.runs.record import package_version

router = APIRouter(tags=["health"])
VERSION = package_version()  # reading package metadata costs milliseconds: once per process


@router.get("/api/health")
async def health(settings: SettingsDep, engine: EngineDep) -> Health:
    """Liveness, the package version, the database kind and the worker count."""
    return Health(version=VERSION, database=engine.dialect.name, workers=settings.workers)
