"""FastAPI dependencies: the long-lived objects the lifespan put on `app.state`, and who asks.

`current_user` (type `CurrentUserDep`) is the signed-in user of the request (an
`app.auth.Principal`: `user_id`, `username`, `is_admin`), set by `app.api.access` before any
route runs; `AdminDep` is the same for routes only admins may use (others get 404). The engine
a route gets (`EngineDep`, and the sessions of `SessionDep`) is confined to that user's own
records by `app.db.ownership`; `OperatorEngineDep` is the unconfined one, for account records.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.requests import HTTPConnection

from app.api.access import principal_of
from app.auth import Principal
from app.db.errors import RecordNotFoundError
from app.db.ownership import OwnerScope, scoped_engine
from app.db.session import session_scope
from app.jobs import DatasetCatalog, JobRunner, ProgressHub
from app.jobs.sweeps import SweepRunner
from app.settings import Settings

NOBODY = OwnerScope(user_id=0)  # no user has id 0: a request not signed in reaches no record


# The dependencies that only read app.state are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, so each request would wait for a free thread (behind every
# slow sync route) just to read an attribute. Only get_session, which does I/O, stays sync.


async def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


async def current_user(connection: HTTPConnection) -> Principal:
    """The signed-in user; the access middleware refused the request before if there is none."""
    principal = principal_of(connection.scope)
    if principal is None:  # an open path (the sign-in page) reached a route that needs a user
        raise RecordNotFoundError("page", connection.url.path)
    return principal


async def admin_user(user: Annotated[Principal, Depends(current_user)]) -> Principal:
    """The signed-in user when an admin; others are answered 404, as if the route were not."""
    if not user.is_admin:
        raise RecordNotFoundError("page", "admin")
    return user


async def get_operator_engine(connection: HTTPConnection) -> Engine:
    """The app's engine unconfined: for the account records (users, sessions, audit)."""
    engine: Engine = connection.app.state.engine
    return engine


def get_engine(connection: HTTPConnection) -> Engine:
    """The app's engine confined to the request's user (`app.db.ownership`)."""
    principal = principal_of(connection.scope)
    scope = principal.owner_scope if principal is not None else NOBODY
    engine: Engine = connection.app.state.engine
    return scoped_engine(engine, scope)


async def confined_engine(connection: HTTPConnection) -> Engine:
    """get_engine as a dependency (no thread needed: it only reads app.state)."""
    return get_engine(connection)


def get_session(engine: Annotated[Engine, Depends(confined_engine)]) -> Iterator[Session]:
    """A session committed after the route returns (rolled back if it raises)."""
    with session_scope(engine) as session:
        yield session


async def get_runner(connection: HTTPConnection) -> JobRunner:
    runner: JobRunner = connection.app.state.runner
    return runner


async def get_sweep_runner(connection: HTTPConnection) -> SweepRunner:
    sweeps: SweepRunner = connection.app.state.sweeps
    return sweeps


async def get_catalog(connection: HTTPConnection) -> DatasetCatalog:
    catalog: DatasetCatalog = connection.app.state.catalog
    return catalog


async def get_hub(connection: HTTPConnection) -> ProgressHub:
    hub: ProgressHub = connection.app.state.hub
    return hub


SettingsDep = Annotated[Settings, Depends(get_settings)]
CurrentUserDep = Annotated[Principal, Depends(current_user)]
AdminDep = Annotated[Principal, Depends(admin_user)]
EngineDep = Annotated[Engine, Depends(confined_engine)]
OperatorEngineDep = Annotated[Engine, Depends(get_operator_engine)]
SessionDep = Annotated[Session, Depends(get_session)]
RunnerDep = Annotated[JobRunner, Depends(get_runner)]
SweepRunnerDep = Annotated[SweepRunner, Depends(get_sweep_runner)]
CatalogDep = Annotated[DatasetCatalog, Depends(get_catalog)]
HubDep = Annotated[ProgressHub, Depends(get_hub)]
