"""One run executed by a `strategylab worker`: the RQ job function and what it sets up.

The worker calls `run_job(run_id)` in its own process (app.jobs.redis_worker: RQ's
SimpleWorker; each run is isolated in its own sandbox process anyway, and a process kept
between jobs keeps a sandbox worker started ahead and a database pool open, instead of paying
seconds of imports per run). The job reads the run from the shared database and starts it as
the run's next attempt (app.db.crud.start_run); while the attempt runs it holds the run's
lease on Redis with the attempt's number as its token, renewed by the worker's lease keeper
process (app.jobs.lease_keeper), so a busy worker keeps it and a killed one loses it within
seconds: the web nodes' reaper then queues the run again once, or fails it "worker lost".
Only the run's current attempt can store its progress, results and end: an attempt that was
replaced (its worker stalled past the lease and came back) stops and stores nothing, saying
so in the worker's log. The job polls the run's cancel flag and executes the run through the
same JobRunner states and RunService as a local run, inside the same sandbox, its events
published on Redis. The dataset is read from the shared store and its bytes are hashed before
the run: a worker whose store holds other bytes than the run names refuses to run it
(app.jobs.verified_data). The sandbox process exits when its parent does, so it never
outlives the job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import redis
from rq import get_current_job
from sqlalchemy import Engine
from sqlmodel import select

from app.db import RunRow, make_engine, session_scope
from app.jobs.lease_keeper import LeaseKeeper, drop_lease, lease_holder, renew_lease
from app.jobs.queue import WORKER_NICE, JobHandler, RunJob
from app.jobs.redis_keys import DEFAULT_LEASE_TIMING, LeaseTiming, cancel_key, lease_key
from app.jobs.redis_progress import RedisProgressPublisher
from app.jobs.redis_queue import JOB_TIMEOUT_MARGIN_S, connect
from app.jobs.runner import JobRunner
from app.jobs.trial_bases import TrialBases
from app.jobs.verified_data import VerifiedCatalog
from app.runs import RunService
from app.settings import Settings, load_settings
from sandbox import WarmWorker, WorkerPool

logger = logging.getLogger(__name__)

CANCEL_POLL_S = 0.25
DEFAULT_HOLD_S = 3600.0 + JOB_TIMEOUT_MARGIN_S
"""How long a lease is kept at most when the job does not say (RQ's default hard timeout)."""


class _NoQueue:
    """A worker's job runner queues nothing: RQ handed it its one job."""

    def __init__(self, handler: JobHandler, *, workers: int) -> None:
        del handler, workers

    def submit(self, job: RunJob) -> None:
        raise RuntimeError("a worker's job runner does not queue runs")

    def cancel(self, run_id: str) -> bool:
        return False

    def shutdown(self) -> None:
        return None


class WorkerJobRunner(JobRunner):
    """A JobRunner executing one run in this process, its events sent straight to Redis,
    its sandbox taken from the worker's pool (`sandboxes`; None starts one per run)."""

    _sandboxes: WorkerPool | None = None  # set by run(), per instance
    _lease: Callable[[str, int, threading.Event], RunLease] | None = None

    def run(
        self,
        run_id: str,
        stop: threading.Event,
        sandboxes: WorkerPool | None,
        lease: Callable[[str, int, threading.Event], RunLease],
    ) -> None:
        """Execute the run to a terminal state (see JobRunner: never left running), each
        attempt holding the run's lease made by `lease(run_id, attempt, stop)`."""
        self._sandboxes = sandboxes
        self._lease = lease
        self._execute(RunJob(run_id), stop)

    def _attempt_scope(
        self, run_id: str, attempt: int, stop: threading.Event
    ) -> AbstractContextManager[object]:
        if self._lease is None:
            return super()._attempt_scope(run_id, attempt, stop)
        return self._lease(run_id, attempt, stop)

    def _take_worker(self) -> WarmWorker:
        if self._sandboxes is not None:
            return self._sandboxes.take()
        return super()._take_worker()

    def _call_in_loop(self, function: Callable[..., None], *args: Any) -> None:
        function(*args)  # the publisher is thread-safe; there is no event loop here


class RunLease:
    """While entered: the lease `lease_key(lease_id)` held as attempt `attempt`, and the
    cancel flag watched (sets `stop`). The lease is renewed from this object's thread and,
    when there is one, by the worker's lease keeper process (app.jobs.lease_keeper), so a
    worker starved of CPU or stopped keeps its lease. When a later attempt holds the lease
    (this attempt was found lost and replaced), `stop` is set and `is_replaced` is true.
    Leaving deletes the lease if it is still this attempt's, after the terminal state is
    stored."""

    def __init__(
        self,
        connection: redis.Redis,
        lease_id: str,
        stop: threading.Event,
        *,
        attempt: int = 1,
        keeper: LeaseKeeper | None = None,
        hold_s: float = DEFAULT_HOLD_S,
        timing: LeaseTiming = DEFAULT_LEASE_TIMING,
    ) -> None:
        self._redis = connection
        self._timing = timing
        self._id = lease_id
        self._key = lease_key(lease_id)
        self._attempt = attempt
        self._stop = stop
        self._keeper = keeper
        self._until_s = time.time() + hold_s
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="run-lease", daemon=True)
        self.is_replaced = False

    def __enter__(self) -> RunLease:
        self._renew()
        if self._keeper is not None:
            self._keeper.hold(self._key, self._attempt, until_s=self._until_s)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._done.set()
        self._thread.join(timeout=5)
        if self._keeper is not None:
            self._keeper.drop(self._key, self._attempt)
        try:
            drop_lease(self._redis, self._key, self._attempt)
        except redis.RedisError:
            logger.warning("lease not released (it expires) lease=%s", self._id)

    def _renew(self) -> None:
        try:
            if not renew_lease(self._redis, self._key, self._attempt, self._timing.ttl_s):
                self._replaced()
        except redis.RedisError as error:  # Redis restarting: keep trying until it is back
            logger.warning("lease renewal failed lease=%s: %s", self._id, error)

    def _replaced(self) -> None:
        if not self.is_replaced:
            logger.warning(
                "lease taken over by a newer attempt; this attempt stops lease=%s attempt=%d",
                self._id,
                self._attempt,
            )
        self.is_replaced = True
        self._stop.set()

    def _keep(self) -> None:
        renewed = 0.0
        waited = 0.0
        while not self._done.wait(CANCEL_POLL_S):
            waited += CANCEL_POLL_S
            try:
                if self._redis.exists(cancel_key(self._id)):
                    self._stop.set()
                holder = lease_holder(self._redis, self._key)
            except redis.RedisError as error:
                logger.warning("cancel flag not read lease=%s: %s", self._id, error)
                continue
            if holder is not None and holder > self._attempt:
                self._replaced()
            if waited - renewed >= self._timing.renew_s:  # the keeper renews too when starved
                renewed = waited
                self._renew()


def stored_dataset_hashes(engine: Engine, run_id: str) -> tuple[str, dict[str, str]] | None:
    """The content hash of the dataset the stored run names, and those of its further
    symbols' datasets by name (a run over several symbols: its provenance, written when the
    run was stored); None when the run is gone."""
    with session_scope(engine) as session:
        row = session.exec(
            select(RunRow.dataset_hash, RunRow.provenance).where(RunRow.id == run_id)
        ).first()
    if row is None:
        return None
    dataset_hash, provenance = row
    data = provenance.get("data") if isinstance(provenance, dict) else None
    others = data.get("other_symbols") if isinstance(data, dict) else None
    hashes = {
        other["name"]: other["content_hash"]
        for other in (others if isinstance(others, list) else [])
        if isinstance(other, dict)
        and isinstance(other.get("name"), str)
        and isinstance(other.get("content_hash"), str)
    }
    return dataset_hash, hashes


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What a worker process keeps between runs: settings, database, Redis, warm sandboxes,
    the trial runners of the sweeps it has trials of."""

    settings: Settings
    engine: Engine
    connection: redis.Redis
    sandboxes: WorkerPool | None = None
    trials: TrialBases = field(default_factory=TrialBases)
    keeper: LeaseKeeper | None = None
    """The process renewing this worker's leases (None: renewed from the job's thread)."""
    lease_timing: LeaseTiming = DEFAULT_LEASE_TIMING
    """The leases' TTL and renewal interval (the operator's, from Settings)."""

    @classmethod
    def from_settings(cls, settings: Settings, *, warm: bool = True) -> WorkerContext:
        """The context for `settings` (STRATEGYLAB_REDIS_URL required); `warm` keeps one
        sandbox worker started ahead of each run, at the runs' priority, and a lease keeper
        process (a `strategylab worker`'s context; a one-off job's renews from a thread)."""
        if settings.redis_url is None:
            raise RuntimeError("STRATEGYLAB_REDIS_URL is not set in the worker's environment")
        timing = LeaseTiming.from_settings(settings)
        keeper = (
            LeaseKeeper(settings.redis_url, ttl_s=timing.ttl_s, renew_s=timing.renew_s)
            if warm
            else None
        )
        return cls(
            settings=settings,
            engine=make_engine(settings.resolved_database_url),
            connection=connect(settings.redis_url),
            sandboxes=WorkerPool(1, nice=WORKER_NICE) if warm else None,
            keeper=keeper,
            lease_timing=timing,
        )

    def lease(self, lease_id: str, attempt: int, stop: threading.Event) -> RunLease:
        """The lease of attempt `attempt` of run or trial `lease_id`, held (by the keeper)
        until the current RQ job's hard timeout at most."""
        job = get_current_job()
        hold_s = float(job.timeout) if job is not None and job.timeout else DEFAULT_HOLD_S
        return RunLease(
            self.connection,
            lease_id,
            stop,
            attempt=attempt,
            keeper=self.keeper,
            hold_s=hold_s,
            timing=self.lease_timing,
        )

    def close(self) -> None:
        """Kill the idle sandbox, stop the trial runners and the lease keeper, close the
        database pool."""
        if self.sandboxes is not None:
            self.sandboxes.close()
        self.trials.close()
        if self.keeper is not None:
            self.keeper.close()
        self.engine.dispose()


CURRENT_CONTEXT: ContextVar[WorkerContext | None] = ContextVar("worker_context", default=None)
"""The context of the worker executing jobs in this process (set by `serving`)."""


@contextmanager
def serving(context: WorkerContext) -> Iterator[WorkerContext]:
    """While inside, `run_job` in this process uses `context`; closed on the way out."""
    token = CURRENT_CONTEXT.set(context)
    try:
        yield context
    finally:
        CURRENT_CONTEXT.reset(token)
        context.close()


def execute_run(run_id: str, context: WorkerContext) -> None:
    """Execute one stored run on this machine, as a worker does."""
    hashes = stored_dataset_hashes(context.engine, run_id)
    if hashes is None:
        logger.warning("run not found; job dropped run_id=%s", run_id)
        return
    stop = threading.Event()
    if context.connection.exists(cancel_key(run_id)):
        stop.set()
    runner = WorkerJobRunner(
        engine=context.engine,
        catalog=VerifiedCatalog(
            context.settings.data_dir, expected_hash=hashes[0], others=hashes[1]
        ),
        hub=RedisProgressPublisher(context.connection),
        workers=1,
        service=RunService.from_settings(context.settings),
        queue_factory=_NoQueue,
    )
    runner.run(run_id, stop, context.sandboxes, context.lease)


def run_job(run_id: str) -> None:
    """RQ's entry point (by name, app.jobs.redis_queue.JOB_FUNCTION): run `run_id` with the
    worker's context, or, in a process RQ started some other way, a context made now."""
    context = CURRENT_CONTEXT.get()
    if context is not None:
        execute_run(run_id, context)
        return
    with serving(WorkerContext.from_settings(load_settings(), warm=False)) as fresh:
        execute_run(run_id, fresh)
