"""`strategylab worker`: an RQ worker that takes runs from every owner's queue in turn.

The worker executes each job in its own process (RQ's SimpleWorker): every run is already
isolated in a sandbox process with its own CPU, memory and wall-clock limits, killed on every
path out of the run, and RQ's hard job timeout still applies (SIGALRM in this process). A
process kept between jobs keeps a sandbox started ahead of the next run (RQ's forking Worker
starts a new interpreter per job: seconds of imports each time). With the round-robin dequeue
strategy it moves past the queue it last took from, so owners take turns. Owners appear while
the worker runs: before each wait for a job it re-reads the set of owner queues (QUEUES_SET)
and adds new ones at the end of its rotation, waiting at most QUEUE_REFRESH_S on the old list
before looking again.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import redis
from rq import Queue, SimpleWorker
from rq.job import Job
from rq.worker import DequeueStrategy

from app.jobs.queue import LOCAL_OWNER
from app.jobs.redis_job import WorkerContext, serving
from app.jobs.redis_keys import QUEUES_SET, queue_name
from app.settings import Settings

logger = logging.getLogger(__name__)

QUEUE_REFRESH_S: Final = 1


class FairWorker(SimpleWorker):
    """An RQ worker over every owner queue on QUEUES_SET, taking them round-robin."""

    def refresh_queues(self) -> None:
        """Add the owner queues created since the last look to the end of the rotation."""
        names = sorted(
            name.decode() if isinstance(name, bytes) else str(name)
            for name in self.connection.smembers(QUEUES_SET)
        )
        known = {queue.name for queue in self._ordered_queues}
        added = [Queue(name, connection=self.connection) for name in names if name not in known]
        if added:
            self.queues = [*self.queues, *added]
            self._ordered_queues = [*self._ordered_queues, *added]
            logger.info("worker listens to %s", ", ".join(queue.name for queue in added))

    def dequeue_job_and_maintain_ttl(
        self, timeout: int | None, max_idle_time: int | None = None
    ) -> tuple[Job, Queue] | None:
        """The next job, owners in turn; re-reads the owner queues every QUEUE_REFRESH_S.
        In burst mode (`timeout` None) one look at every queue, None when all are empty."""
        if timeout is None:
            self.refresh_queues()
            return super().dequeue_job_and_maintain_ttl(None, max_idle_time)
        while True:
            self.refresh_queues()
            found = super().dequeue_job_and_maintain_ttl(QUEUE_REFRESH_S, QUEUE_REFRESH_S)
            if found is not None:
                return found


def make_worker(connection: redis.Redis, *, name: str | None = None) -> FairWorker:
    """A worker over the local owner's queue plus every owner queue known now."""
    options: dict[str, Any] = {"connection": connection}
    if name is not None:
        options["name"] = name
    worker = FairWorker([Queue(queue_name(LOCAL_OWNER), connection=connection)], **options)
    worker.refresh_queues()
    return worker


def work(settings: Settings, *, name: str | None = None, burst: bool = False) -> bool:
    """Take and execute runs until stopped (SIGTERM/SIGINT: warm shut-down after the current
    run); `burst` stops once the queues are empty. True when some job was executed."""
    with serving(WorkerContext.from_settings(settings)) as context:
        worker = make_worker(context.connection, name=name)
        return bool(
            worker.work(
                burst=burst, dequeue_strategy=DequeueStrategy.ROUND_ROBIN, with_scheduler=False
            )
        )
