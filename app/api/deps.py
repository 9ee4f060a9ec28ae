"""FastAPI dependencies: the long-lived objects the lifespan put on `app.state`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from app.db.session import session_scope
from app.jobs import DatasetCatalog, JobRunner, ProgressHub
from app.jobs.sweeps import SweepRunner
from app.settings import Settings


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_session(engine: Annotated[Engine, Depends(get_engine)]) -> Iterator[Session]:
    """A session committed after the route returns (rolled back if it raises)."""
    with session_scope(engine) as session:
        yield session


def get_runner(request: Request) -> JobRunner:
    runner: JobRunner = request.app.state.runner
    return runner


def get_sweep_runner(request: Request) -> SweepRunner:
    sweeps: SweepRunner = request.app.state.sweeps
    return sweeps


def get_catalog(request: Request) -> DatasetCatalog:
    catalog: DatasetCatalog = request.app.state.catalog
    return catalog


def get_hub(request: Request) -> ProgressHub:
    hub: ProgressHub = request.app.state.hub
    return hub


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
SweepRunnerDep = Annotated[SweepRunner, Depends(get_sweep_runner)]
CatalogDep = Annotated[DatasetCatalog, Depends(get_catalog)]
HubDep = Annotated[ProgressHub, Depends(get_hub)]
