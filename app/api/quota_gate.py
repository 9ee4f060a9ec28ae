"""The API's door to the per-user quotas (app.jobs.quotas): runs and sweeps over quota get 429.

`QuotaGate` (one per app, on `app.state.quotas`) checks a request's user before anything is
stored. A user's run submissions are checked and inserted one at a time (`user_lock`, then
`check_run` in the inserting transaction: app.api.admission.RunDoor), each counting the runs
committed before it, so a burst of requests cannot overshoot the concurrent-runs limit; the
slow part of a submission (checking its code and data) is done before its turn. A user's
sweep and walk-forward submissions are stored one at a time too (`SweepQuota.admitted`),
each counting the sweeps already committed, so a burst cannot pass the concurrent-sweeps
limit on one web node (across web nodes a simultaneous burst may pass it by one per node).
Requests without a signed-in user (open paths) are not counted.
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

    def limits(self, user_id: int) -> QuotaLimits:
        """The limits in force for `user_id` (blocking: call from a thread)."""
        with session_scope(self.engine) as session:
            return limits_for(session, user_id=user_id, defaults=self.defaults)

    def user_lock(self, user_id: int) -> asyncio.Lock:
        """The lock a user's run submissions take turns on (count, check, insert, commit)."""
        return self._locks.setdefault(user_id, asyncio.Lock())

    def sweep_lock(self, user_id: int) -> asyncio.Lock:
        """The lock a user's sweep submissions take turns on (check, store, commit)."""
        return self._sweep_locks.setdefault(user_id, asyncio.Lock())

    def check_run(self, session: Session, user_id: int) -> None:
        """QuotaExceededError when one more run of `user_id` would pass a quota, counted in
        `session` (the one that then inserts the run; blocking: call from a thread)."""
        limits = limits_for(session, user_id=user_id, defaults=self.defaults)
        check_new_run(
            session,
            user_id=user_id,
            limits=limits,
            stored_bytes=lambda: self._stored_bytes(session, user_id),
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
