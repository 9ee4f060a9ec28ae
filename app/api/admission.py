"""Admission of new runs: one client may have at most `max_active_runs_per_client` runs queued
or running at once; one more is refused with 429 and a sentence naming the count and limit.

A client is a network address for now (`client_key`); accounts (issue 16) will key the same
ledger by user. The ledger lives in memory, owned by the app: it holds the ids of the runs each
client started through this server process, and counts only those the database still shows
queued or running, so finished, cancelled, failed and deleted runs free their slot by
themselves. Runs re-queued after a restart count for no one. A run being stored holds a
reservation, so a burst of concurrent requests cannot overshoot the limit.

A route stores its run through the request's `RunDoor` (the `RunSlotDep` dependency): it
first does everything slow (checking the code, the dataset, the config: building the row),
then `door.store(row)` takes the user's lock (app.api.quota_gate), reserves the client's slot,
checks the user's quotas and inserts the row in one short transaction on the admission's own
thread, so a burst of submissions is checked and validated in parallel and only the few
milliseconds of counting and inserting take turns (two submissions still never both pass a
limit: the second counts the first's committed row).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import col, select

from app.api.access import principal_of
from app.api.deps import EngineDep
from app.api.errors import RunLimitReachedError
from app.api.quota_gate import QuotaGate
from app.db import RunRow, RunStatus, crud, session_scope

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
    _thread: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="run-admission")
    )
    """The admission's own thread: its short database steps never wait behind the slow
    validations that fill the server's shared thread pool during a burst."""

    async def in_thread[T](self, function: Callable[..., T], *args: object) -> T:
        """`function(*args)` on the admission's own thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)

    async def reserve(self, client: str, engine: Engine) -> RunSlot:
        """A slot for one more run of `client`; RunLimitReachedError when it has none left."""
        async with self._lock:
            known = set(self._runs.get(client, ()))
            active = await self.in_thread(_still_active, engine, known)
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


@dataclass(frozen=True, slots=True)
class RunDoor:
    """How one request stores its run within the client's limit and the user's quotas."""

    engine: Engine
    admission: RunAdmission
    client: str
    gate: QuotaGate | None
    user_id: int | None

    async def store(self, record: RunRow) -> str:
        """Insert the queued run `record` (built and checked beforehand) and return its id;
        RunLimitReachedError or QuotaExceededError (nothing stored) when it would pass the
        client's limit or one of the user's quotas. The user's submissions take turns here,
        each counting the ones committed before it."""
        async with self._user_turn():
            slot = await self.admission.reserve(self.client, self.engine)
            try:
                run_id = await self.admission.in_thread(self._insert, record)
                slot.hold(run_id)
            finally:
                self.admission.settle(self.client, slot)
        return run_id

    def _user_turn(self) -> asyncio.Lock | contextlib.AbstractAsyncContextManager[None]:
        if self.gate is None or self.user_id is None:
            return contextlib.nullcontext()
        return self.gate.user_lock(self.user_id)

    def _insert(self, record: RunRow) -> str:
        with session_scope(self.engine) as session:
            if self.gate is not None and self.user_id is not None:
                self.gate.check_run(session, self.user_id)
            return crud.create_run(session, run=record).id


async def run_door(request: Request, engine: EngineDep) -> RunDoor:
    """A dependency: the request's door to store one run (checked when it stores)."""
    principal = principal_of(request.scope)
    return RunDoor(
        engine=engine,
        admission=request.app.state.admission,
        client=client_key(request),
        gate=getattr(request.app.state, "quotas", None),
        user_id=principal.user_id if principal else None,
    )


RunSlotDep = Annotated[RunDoor, Depends(run_door)]
