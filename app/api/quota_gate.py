"""The API's door to the per-user quotas (app.jobs.quotas): runs and sweeps over quota get 429.

`QuotaGate` (one per app, on `app.state.quotas`) checks a request's user before anything is
stored. A user's run submissions are checked one at a time (a lock per user), each counting
the runs in the database plus those admitted before it and still being stored, so a burst of
requests cannot overshoot the concurrent-runs limit (for the few milliseconds between a run's
commit and the end of its request it counts twice: a burst at the limit may be refused one
early, never admitted one over). A user's sweep and walk-forward submissions are stored one
at a time too (`SweepQuota.admitted`), each counting the sweeps already committed, so a burst
cannot pass the concurrent-sweeps limit on one web node (across web nodes a simultaneous
burst may pass it by one per node). Requests without a signed-in user (open paths) are not
counted.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from app.api.access import principal_of
from app.data.catalog import DatasetCatalog
from app.db.session import session_scope
from app.jobs.quotas import (
    QuotaLimits,
    check_new_run,
    check_new_sweep,
    check_sweep_size,
    limits_for,
    storage_bytes,
)

STORAGE_CACHE_S = 30.0


@dataclass
class QuotaGate:
    """Per-user quota checks on the operator's (unconfined) engine."""

    engine: Engine
    catalog: DatasetCatalog
    defaults: QuotaLimits
    runs_dir: Path | None
    _locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    _sweep_locks: dict[int, asyncio.Lock] = field(default_factory=dict)
    _storage: dict[int, tuple[float, int]] = field(default_factory=dict)  # monotonic s, bytes
    _in_flight: dict[int, int] = field(default_factory=dict)  # admitted, not yet stored

    def limits(self, user_id: int) -> QuotaLimits:
        """The limits in force for `user_id` (blocking: call from a thread)."""
        with session_scope(self.engine) as session:
            return limits_for(session, user_id=user_id, defaults=self.defaults)

    @asynccontextmanager
    async def run_admitted(self, user_id: int | None) -> AsyncIterator[None]:
        """Inside: one more run of `user_id` is within every quota (QuotaExceededError
        otherwise); the user's next submission waits until this one has left."""
        if user_id is None:
            yield
            return
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        async with lock:
            in_flight = self._in_flight.get(user_id, 0)
            await run_in_threadpool(self._check_run, user_id, in_flight)
            self._in_flight[user_id] = in_flight + 1
        try:
            yield
        finally:
            left = self._in_flight.get(user_id, 1) - 1
            if left > 0:
                self._in_flight[user_id] = left
            else:
                self._in_flight.pop(user_id, None)

    def sweep_lock(self, user_id: int) -> asyncio.Lock:
        """The lock a user's sweep submissions take turns on (check, store, commit)."""
        return self._sweep_locks.setdefault(user_id, asyncio.Lock())

    def _check_run(self, user_id: int, in_flight: int) -> None:
        with session_scope(self.engine) as session:
            limits = limits_for(session, user_id=user_id, defaults=self.defaults)
            check_new_run(
                session,
                user_id=user_id,
                limits=limits,
                stored_bytes=lambda: self._stored_bytes(session, user_id),
                in_flight=in_flight,
            )

    def _stored_bytes(self, session: Session, user_id: int) -> int:
        """The user's storage, measured at most every STORAGE_CACHE_S (walking every run
        folder on each request would cost the API more than the quota is worth)."""
        now = time.monotonic()
        cached = self._storage.get(user_id)
        if cached is not None and now - cached[0] < STORAGE_CACHE_S:
            return cached[1]
        measured = storage_bytes(
            session, user_id=user_id, runs_dir=self.runs_dir, catalog=self.catalog
        )
        self._storage[user_id] = (now, measured)
        return measured


@dataclass(frozen=True, slots=True)
class SweepQuota:
    """The sweep quotas of the request's user (`limits` None: not counted, open paths).

    Store a sweep inside `async with quota.admitted():`, calling `check_concurrent(session)`
    before storing and `check(trials)` once its size is known, both in the storing session:
    a refusal then rolls the sweep back and the user's next submission counts this one.
    """

    limits: QuotaLimits | None
    user_id: int | None = None
    lock: asyncio.Lock | None = None

    def check(self, trials: int | None, *, what: str = "sweep") -> None:
        """QuotaExceededError when `trials` is over the user's limit (blocking-safe)."""
        if self.limits is not None:
            check_sweep_size(trials, limits=self.limits, what=what)

    def check_concurrent(self, session: Session) -> None:
        """QuotaExceededError when the user already has their limit of sweeps and
        walk-forwards queued or running (blocking: call from a thread)."""
        if self.limits is not None and self.user_id is not None:
            check_new_sweep(session, user_id=self.user_id, limits=self.limits)

    @asynccontextmanager
    async def admitted(self) -> AsyncIterator[None]:
        """Inside: the user's other sweep submissions on this node wait."""
        if self.lock is None:
            yield
            return
        async with self.lock:
            yield


async def sweep_quota(connection: HTTPConnection) -> SweepQuota:
    """A dependency: the request's user's sweep quotas (none for open paths)."""
    principal = principal_of(connection.scope)
    gate: QuotaGate | None = getattr(connection.app.state, "quotas", None)
    if principal is None or gate is None:
        return SweepQuota(None)
    limits = await run_in_threadpool(gate.limits, principal.user_id)
    return SweepQuota(limits, principal.user_id, gate.sweep_lock(principal.user_id))


SweepQuotaDep = Annotated[SweepQuota, Depends(sweep_quota)]
