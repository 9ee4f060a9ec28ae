"""The JobQueue on RQ and Redis, and the web node's job runner that uses it.

`RedisJobQueue.submit` puts a run on its owner's RQ queue (job id `run-<run id>`, so a run is
never queued twice) and announces it to every web node; `strategylab worker` processes on any
machine take the runs round-robin between owners (app.jobs.redis_worker) and execute them
(app.jobs.redis_job). Cancel sets the run's cancel flag, which the worker running it polls,
and takes a run that has not started off its queue.

`ClusterJobRunner` is the JobRunner of a web node in this mode: no local sandbox workers; at
start it re-submits the runs the database shows queued (idempotent: those still on Redis stay
as they are), and it never marks running runs interrupted, since workers, not this node, run
them. Its reaper thread handles a running run whose current attempt holds no lease (the
worker and its lease keeper were killed or their machine went away): the first time it
queues the run again for another worker (RUNNING -> QUEUED, only while that attempt is the
run's, so two nodes reaping at once move it once), the second time it fails it "worker
lost", so no run is ever stuck in running. Every 10 s the reaper also queues on Redis the
runs the database shows queued that Redis does not hold (submitted while Redis was away).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import typing
from datetime import timedelta
from typing import Any, Final

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import Engine

from app.data.catalog import DatasetCatalog
from app.db import crud
from app.db.models import RunStatus, utc_now
from app.db.session import session_scope
from app.jobs.lease_keeper import holder_of
from app.jobs.progress import ProgressHub, queued_progress
from app.jobs.queue import JobHandler, OwnerOf, RunJob, local_owner
from app.jobs.redis_keys import (
    CANCEL_TTL_S,
    DEFAULT_LEASE_TIMING,
    LEASE_TTL_S,
    QUEUES_SET,
    LeaseTiming,
    cancel_key,
    job_id,
    lease_key,
    lost_key,
    queue_name,
)
from app.jobs.redis_progress import ProgressRelay, RedisProgressPublisher
from app.jobs.runner import JobRunner, _cancelled_error, error_message
from app.runs import RunService

logger = logging.getLogger(__name__)

JOB_FUNCTION: Final = "app.jobs.redis_job.run_job"
JOB_TIMEOUT_MARGIN_S: Final = 300.0
"""RQ's hard timeout is the run's longest wall time plus this: the sandbox's own wall limit
ends a run first, RQ's kill is the last resort."""
RESULT_TTL_S: Final = 3600
FAILURE_TTL_S: Final = 7 * 24 * 3600
REAP_INTERVAL_S: Final = 2.0
RESUBMIT_EVERY_ROUNDS: Final = 5
"""The reaper looks for queued runs missing from Redis every this many rounds (10 s)."""
LOST_WORKER_RETRIES: Final = 1
"""Times a run is queued again after its worker was lost, before it fails "worker lost"."""
LIVE_STATUSES: Final = frozenset(
    {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.DEFERRED, JobStatus.SCHEDULED}
)
WORKER_LOST_MESSAGE: Final = (
    "worker lost: the workers running this run stopped before it finished, twice (killed, "
    "or their machines went away); start the run again"
)


def connect(url: str) -> redis.Redis:
    """A Redis client for `url` that notices dead connections and reconnects on its own."""
    return redis.Redis.from_url(
        url, health_check_interval=10, socket_connect_timeout=5, retry_on_timeout=True
    )


def worker_lost_error() -> dict[str, Any]:
    """The error stored on a run whose worker disappeared mid-run."""
    return {"message": WORKER_LOST_MESSAGE, "line": None, "kind": "worker_lost"}


class RedisJobQueue:
    """A JobQueue whose runs execute in `strategylab worker` processes through RQ."""

    def __init__(
        self,
        handler: JobHandler,
        *,
        workers: int,
        connection: redis.Redis,
        owner_of: OwnerOf = local_owner,
        job_timeout_s: float = 3600.0 + JOB_TIMEOUT_MARGIN_S,
    ) -> None:
        del handler, workers  # the runs execute on the workers, not in this process
        self._redis = connection
        self._owner_of = owner_of
        self._job_timeout_s = job_timeout_s
        self._events = RedisProgressPublisher(connection)

    def submit(self, job: RunJob) -> None:
        """Queue the run on Redis; with Redis away the run stays queued in the database and
        the web nodes' reaper queues it once Redis is back (ClusterJobRunner.resubmit)."""
        try:
            self._submit(job)
        except redis.RedisError as error:
            logger.warning("run not queued on redis yet run_id=%s: %s", job.run_id, error)

    def is_on_redis(self, run_id: str) -> bool:
        """True while the run's job waits or runs on Redis."""
        found = self._fetch(run_id)
        return found is not None and found.get_status(refresh=False) in LIVE_STATUSES

    def _submit(self, job: RunJob) -> None:
        name = queue_name(self._owner_of(job.run_id))
        existing = self._fetch(job.run_id)
        if existing is not None and existing.get_status(refresh=False) in LIVE_STATUSES:
            return  # already waiting or running: a run is never queued twice
        if existing is not None:
            existing.delete()
        self._redis.sadd(QUEUES_SET, name)
        Queue(name, connection=self._redis).enqueue(
            JOB_FUNCTION,
            job.run_id,
            job_id=job_id(job.run_id),
            job_timeout=int(self._job_timeout_s),
            result_ttl=RESULT_TTL_S,
            failure_ttl=FAILURE_TTL_S,
            description=f"run {job.run_id}",
        )
        self._events.open(job.run_id)
        logger.info("run queued on redis run_id=%s queue=%s", job.run_id, name)

    def cancel(self, run_id: str) -> bool:
        self._redis.set(cancel_key(run_id), b"1", ex=CANCEL_TTL_S)
        job = self._fetch(run_id)
        if job is None or job.get_status(refresh=False) is not JobStatus.QUEUED:
            return False
        job.cancel()
        return True

    def shutdown(self) -> None:
        """Nothing to stop here: the runs belong to the workers and stay queued on Redis."""

    def requeue(self, run_id: str) -> None:
        """Queue a run again whose worker was lost (its old job record is dropped first)."""
        existing = self._fetch(run_id)
        if existing is not None:
            existing.delete()
        self.submit(RunJob(run_id))

    def _fetch(self, run_id: str) -> Job | None:
        try:
            return Job.fetch(job_id(run_id), connection=self._redis)
        except NoSuchJobError:
            return None


class ClusterJobRunner(JobRunner):
    """The job runner of a web node whose runs execute on `strategylab worker` processes."""

    def __init__(
        self,
        *,
        engine: Engine,
        catalog: DatasetCatalog,
        hub: ProgressHub,
        service: RunService,
        connection: redis.Redis,
        owner_of: OwnerOf = local_owner,
        job_timeout_s: float = 3600.0 + JOB_TIMEOUT_MARGIN_S,
        lease_timing: LeaseTiming = DEFAULT_LEASE_TIMING,
    ) -> None:
        def make_queue(handler: JobHandler, *, workers: int) -> RedisJobQueue:
            return RedisJobQueue(
                handler,
                workers=workers,
                connection=connection,
                owner_of=owner_of,
                job_timeout_s=job_timeout_s,
            )

        super().__init__(
            engine=engine,
            catalog=catalog,
            hub=hub,
            workers=1,
            service=service,
            queue_factory=make_queue,
        )
        self._redis = connection
        self._lease_timing = lease_timing
        self._jobs = typing.cast(RedisJobQueue, self._queue)
        self._relay = ProgressRelay(connection, hub)
        self._events = RedisProgressPublisher(connection)
        self._reaper_stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_forever, name="run-reaper", daemon=True)

    def start(self) -> None:
        """Listen to the workers' run events, start the reaper, re-submit the queued runs."""
        self._loop = asyncio.get_running_loop()
        self._relay.start(self._loop)
        self._reaper.start()
        self.recover()

    def recover(self) -> tuple[list[str], list[str]]:
        """Re-submit every queued run (those still on Redis are left as they are); running
        runs are the workers' and the reaper's, never marked interrupted here."""
        with session_scope(self._engine) as session:
            waiting = crud.list_runs(session, statuses=(RunStatus.QUEUED,), limit=1_000_000)
            requeued = [run.id for run in sorted(waiting, key=lambda run: run.created_at)]
        for run_id in requeued:
            try:
                self.submit(run_id)
            except redis.RedisError as error:
                logger.warning("queued run not re-submitted run_id=%s: %s", run_id, error)
        return [], requeued

    def shutdown(self) -> None:
        """Stop listening and reaping; the runs go on on their workers."""
        self._is_stopping = True
        self._reaper_stop.set()
        self._relay.stop()
        if self._reaper.is_alive():
            self._reaper.join(timeout=5)

    async def cancel(self, run_id: str, *, wait_s: float = 5.0) -> RunStatus:
        """Cancel as a local run is cancelled; a run that ends cancelled here (queued, or its
        worker too slow to answer) is announced to every web node, whose viewers then end."""
        status = await super().cancel(run_id, wait_s=wait_s)
        if status is RunStatus.CANCELLED:
            self._events.finish(run_id, [error_message(_cancelled_error(), status)])
        return status

    def reap(self) -> list[str]:
        """Handle every running run whose current attempt holds no lease (its worker and that
        worker's lease keeper are gone): queued again after its first lost worker, failed
        "worker lost" after its second. A run started less than the lease's TTL ago is left
        alone (its worker sets the lease right after starting it). Returns the runs handled."""
        settled = utc_now() - timedelta(seconds=self._lease_timing.ttl_s)
        with session_scope(self._engine) as session:
            running = crud.list_runs(session, statuses=(RunStatus.RUNNING,), limit=1_000_000)
            candidates = [
                (run.id, run.attempt)
                for run in running
                if run.started_at is None or run.started_at < settled
            ]
        if not candidates:
            return []
        with self._redis.pipeline(transaction=False) as pipe:
            for run_id, _ in candidates:
                pipe.get(lease_key(run_id))
            holders = pipe.execute()
        lost = [
            (run_id, attempt)
            for (run_id, attempt), holder in zip(candidates, holders, strict=True)
            if holder_of(holder) != attempt
        ]
        return [run_id for run_id, attempt in lost if self._handle_lost(run_id, attempt)]

    def resubmit(self) -> list[str]:
        """Queue on Redis every run the database shows queued that Redis does not hold (Redis
        was away when it was submitted, or lost its data); returns their ids."""
        with session_scope(self._engine) as session:
            waiting = crud.list_runs(session, statuses=(RunStatus.QUEUED,), limit=1_000_000)
            candidates = [run.id for run in sorted(waiting, key=lambda run: run.created_at)]
        missing = [run_id for run_id in candidates if not self._jobs.is_on_redis(run_id)]
        for run_id in missing:
            logger.info("queued run re-submitted to redis run_id=%s", run_id)
            self._jobs.submit(RunJob(run_id))
        return missing

    def _handle_lost(self, run_id: str, attempt: int) -> bool:
        losses = int(self._redis.get(lost_key(run_id)) or 0) + 1
        is_retry = losses <= LOST_WORKER_RETRIES
        error = worker_lost_error()
        with session_scope(self._engine) as session:
            moved = crud.set_run_status(
                session,
                run_id=run_id,
                expected=(RunStatus.RUNNING,),
                status=RunStatus.QUEUED if is_retry else RunStatus.FAILED,
                values={} if is_retry else {"error": error, "finished_at": utc_now()},
                attempt=attempt,  # that attempt, not a newer one another node queued meanwhile
            )
        if not moved:
            return False  # it ended meanwhile (its lease went with its end)
        self._redis.incr(lost_key(run_id))
        self._redis.expire(lost_key(run_id), CANCEL_TTL_S)
        if is_retry:
            logger.warning("worker lost; run queued again run_id=%s", run_id)
            self._events.publish_progress(run_id, queued_progress())  # every node: waiting
            self._jobs.requeue(run_id)
        else:
            logger.warning("run failed: worker lost again run_id=%s", run_id)
            self._events.finish(run_id, [error_message(error, RunStatus.FAILED)])
        return True

    def _reap_forever(self) -> None:
        rounds = 0
        while not self._reaper_stop.wait(REAP_INTERVAL_S):
            rounds += 1
            try:
                self.reap()
                if rounds % RESUBMIT_EVERY_ROUNDS == 0:
                    self.resubmit()
            except Exception as error:  # Redis or the database away: try again next round
                logger.warning("reaping lost runs failed: %s", error)


__all__ = ["LEASE_TTL_S", "ClusterJobRunner", "RedisJobQueue", "connect", "worker_lost_error"]
