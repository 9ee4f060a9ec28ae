"""Admission of new runs: one client may have at most `max_active_runs_per_client` runs queued
or running at once; one more is refused with 429 and a sentence naming the count and limit.

A client is a network address for now (`client_key`); accounts (issue 16) will key the same
ledger by user. The ledger lives in memory, owned by the app: it holds the ids of the runs each
client started through this server process, and counts only those the database still shows
queued or running, so finished, cancelled, failed and deleted runs free their slot by
themselves. Runs re-queued after a restart count for no one. A run being stored holds a
reservation, so a burst of concurrent requests cannot overshoot the limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from app.api.access import principal_of
from app.api.deps import EngineDep
from app.api.errors import RunLimitReachedError
from app.api.quota_gate import QuotaGate
from app.db import RunRow, RunStatus, session_scope

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def client_key(request: Request) -> str:
    """Whom a request's runs count against: its client's network address."""
    return request.client.host if request.client is not None else "unknown"


@dataclass(slots=True)
class RunSlot:
    """One admitted request; the route names the run it stored with `hold`."""

    run_id: str | None = None

    def hold(self, run_id: str) -> None:
        """Count `run_id` against this request's client from now on."""
        self.run_id = run_id


@dataclass
class RunAdmission:
    """The per-client ledger of runs started through this server."""

    limit: int
    _runs: dict[str, set[str]] = field(default_factory=dict)
    _reserved: dict[str, int] = field(default_factory=dict)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def reserve(self, client: str, engine: Engine) -> RunSlot:
        """A slot for one more run of `client`; RunLimitReachedError when it has none left."""
        async with self._lock:
            known = set(self._runs.get(client, ()))
            active = await run_in_threadpool(_still_active, engine, known)
            # A run settled while the query ran is not in `known`: keep it, or its slot is lost.
            settled_meanwhile = self._runs.get(client, set()) - known
            self._runs[client] = active | settled_meanwhile
            count = len(self._runs[client]) + self._reserved.get(client, 0)
            if count >= self.limit:
                raise RunLimitReachedError(active=count, limit=self.limit)
            self._reserved[client] = self._reserved.get(client, 0) + 1
            return RunSlot()

    def settle(self, client: str, slot: RunSlot) -> None:
        """Turn `slot`'s reservation into its run (or drop it when no run was stored)."""
        left = self._reserved.get(client, 1) - 1
        if left > 0:
            self._reserved[client] = left
        else:
            self._reserved.pop(client, None)
        runs = self._runs.setdefault(client, set())
        if slot.run_id is not None:
            runs.add(slot.run_id)
        if not runs and client not in self._reserved:
            del self._runs[client]


def _still_active(engine: Engine, run_ids: set[str]) -> set[str]:
    if not run_ids:
        return set()
    with session_scope(engine) as session:
        query = select(RunRow.id).where(col(RunRow.id).in_(run_ids), col(RunRow.status).in_(ACTIVE))
        return set(session.exec(query).all())


async def run_slot(request: Request, engine: EngineDep) -> AsyncIterator[RunSlot]:
    """A dependency: admits one more run for the request's client or answers 429."""
    admission: RunAdmission = request.app.state.admission
    client = client_key(request)
    principal = principal_of(request.scope)
    gate: QuotaGate | None = getattr(request.app.state, "quotas", None)
    async with _quota_admitted(gate, principal.user_id if principal else None):
        slot = await admission.reserve(client, engine)
        try:
            yield slot
        finally:
            admission.settle(client, slot)


@asynccontextmanager
async def _quota_admitted(gate: QuotaGate | None, user_id: int | None) -> AsyncIterator[None]:
    """The user's quotas checked (app.api.quota_gate), or nothing to check."""
    if gate is None:
        yield
        return
    async with gate.run_admitted(user_id):
        yield


RunSlotDep = Annotated[RunSlot, Depends(run_slot)]
