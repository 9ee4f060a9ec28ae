"""One run executed by a `strategylab worker`: the RQ job function and what it sets up.

The worker calls `run_job(run_id)` in its own process (app.jobs.redis_worker: RQ's
SimpleWorker; each run is isolated in its own sandbox process anyway, and a process kept
between jobs keeps a sandbox worker started ahead and a database pool open, instead of paying
seconds of imports per run). The job reads the run from the shared database, holds a lease on
Redis while it runs (renewed every LEASE_RENEW_S; a worker killed with SIGKILL lets it expire
and the web nodes' reaper fails the run "worker lost"), polls the run's cancel flag, and
executes the run through the same JobRunner states and RunService as a local run, inside the
same sandbox, its events published on Redis. The dataset is read from the shared store and
its bytes are hashed before the run: a worker whose store holds other bytes than the run names
refuses to run it (app.jobs.verified_data). The sandbox process exits when its parent does, so
it never outlives the job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import redis
from sqlalchemy import Engine
from sqlmodel import select

from app.db import RunRow, make_engine, session_scope
from app.jobs.queue import WORKER_NICE, JobHandler, RunJob
from app.jobs.redis_keys import LEASE_RENEW_S, LEASE_TTL_S, cancel_key, lease_key
from app.jobs.redis_progress import RedisProgressPublisher
from app.jobs.redis_queue import connect
from app.jobs.runner import JobRunner
from app.jobs.trial_bases import TrialBases
from app.jobs.verified_data import VerifiedCatalog
from app.runs import RunService
from app.settings import Settings, load_settings
from sandbox import WarmWorker, WorkerPool

logger = logging.getLogger(__name__)

CANCEL_POLL_S = 0.25


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

    def run(self, run_id: str, stop: threading.Event, sandboxes: WorkerPool | None) -> None:
        """Execute the run to a terminal state (see JobRunner: never left running)."""
        self._sandboxes = sandboxes
        self._execute(RunJob(run_id), stop)

    def _take_worker(self) -> WarmWorker:
        if self._sandboxes is not None:
            return self._sandboxes.take()
        return super()._take_worker()

    def _call_in_loop(self, function: Callable[..., None], *args: Any) -> None:
        function(*args)  # the publisher is thread-safe; there is no event loop here


class RunLease:
    """While entered: the run's lease renewed on Redis and its cancel flag watched (sets
    `stop`). Leaving deletes the lease, after the run's terminal state is stored."""

    def __init__(self, connection: redis.Redis, run_id: str, stop: threading.Event) -> None:
        self._redis = connection
        self._run_id = run_id
        self._stop = stop
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="run-lease", daemon=True)

    def __enter__(self) -> RunLease:
        self._redis.set(lease_key(self._run_id), b"1", ex=LEASE_TTL_S)
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
        try:
            self._redis.delete(lease_key(self._run_id))
        except redis.RedisError:
            logger.warning("lease not released (it expires) run_id=%s", self._run_id)

    def _keep(self) -> None:
        renewed = 0.0
        waited = 0.0
        while not self._done.wait(CANCEL_POLL_S):
            waited += CANCEL_POLL_S
            try:
                if self._redis.exists(cancel_key(self._run_id)):
                    self._stop.set()
                if waited - renewed >= LEASE_RENEW_S:
                    renewed = waited
                    self._redis.set(lease_key(self._run_id), b"1", ex=LEASE_TTL_S)
            except redis.RedisError as error:  # Redis restarting: keep trying until it is back
                logger.warning("lease renewal failed run_id=%s: %s", self._run_id, error)


def stored_dataset_hash(engine: Engine, run_id: str) -> str | None:
    """The content hash the stored run names (None when the run is gone)."""
    with session_scope(engine) as session:
        return session.exec(select(RunRow.dataset_hash).where(RunRow.id == run_id)).first()


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What a worker process keeps between runs: settings, database, Redis, warm sandboxes,
    the trial runners of the sweeps it has trials of."""

    settings: Settings
    engine: Engine
    connection: redis.Redis
    sandboxes: WorkerPool | None = None
    trials: TrialBases = field(default_factory=TrialBases)

    @classmethod
    def from_settings(cls, settings: Settings, *, warm: bool = True) -> WorkerContext:
        """The context for `settings` (STRATEGYLAB_REDIS_URL required); `warm` keeps one
        sandbox worker started ahead of each run, at the runs' priority."""
        if settings.redis_url is None:
            raise RuntimeError("STRATEGYLAB_REDIS_URL is not set in the worker's environment")
        return cls(
            settings=settings,
            engine=make_engine(settings.resolved_database_url),
            connection=connect(settings.redis_url),
            sandboxes=WorkerPool(1, nice=WORKER_NICE) if warm else None,
        )

    def close(self) -> None:
        """Kill the idle sandbox, stop the trial runners, close the database pool."""
        if self.sandboxes is not None:
            self.sandboxes.close()
        self.trials.close()
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
    expected = stored_dataset_hash(context.engine, run_id)
    if expected is None:
        logger.warning("run not found; job dropped run_id=%s", run_id)
        return
    stop = threading.Event()
    if context.connection.exists(cancel_key(run_id)):
        stop.set()
    runner = WorkerJobRunner(
        engine=context.engine,
        catalog=VerifiedCatalog(context.settings.data_dir, expected_hash=expected),
        hub=RedisProgressPublisher(context.connection),
        workers=1,
        service=RunService.from_settings(context.settings),
        queue_factory=_NoQueue,
    )
    with RunLease(context.connection, run_id, stop):
        runner.run(run_id, stop, context.sandboxes)


def run_job(run_id: str) -> None:
    """RQ's entry point (by name, app.jobs.redis_queue.JOB_FUNCTION): run `run_id` with the
    worker's context, or, in a process RQ started some other way, a context made now."""
    context = CURRENT_CONTEXT.get()
    if context is not None:
        execute_run(run_id, context)
        return
    with serving(WorkerContext.from_settings(load_settings(), warm=False)) as fresh:
        execute_run(run_id, fresh)
