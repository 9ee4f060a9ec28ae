"""The run queue: a protocol any backend honours, and the local pool of sandbox workers.

The local pool runs at most `workers` runs at once; each run is supervised by one pool thread
and executes in its own sandbox worker process (through app.runs.execute; the JobRunner keeps
them pre-started in a sandbox.WorkerPool). A distributed backend (a Redis-backed queue or Ray)
implements the same protocol later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from sandbox import lower_thread_priority

logger = logging.getLogger(__name__)

WORKER_NICE = 10
"""Niceness of the pool's threads and so of the sandbox processes they start (and of the
WorkerPool's starter thread, for the pre-started ones): backtests yield the CPU to the API and
websockets, which stay responsive while every worker is busy."""


@dataclass(frozen=True, slots=True)
class RunJob:
    """What a worker needs to pick a run up: its id (the rest is in the database)."""

    run_id: str


JobHandler = Callable[[RunJob, threading.Event], None]
"""Executes one job; the event is set when the run must stop (cancel or shutdown)."""


class JobQueue(Protocol):
    """Where runs wait for a worker."""

    def submit(self, job: RunJob) -> None:
        """Queue a job; it starts when a worker is free."""
        ...

    def cancel(self, run_id: str) -> bool:
        """Ask a job to stop; True if it had not started (it never will)."""
        ...

    def shutdown(self) -> None:
        """Stop every job, drop the waiting ones and wait for the workers to end."""
        ...


class LocalProcessPool:
    """A JobQueue on this machine: `workers` supervisor threads, one sandbox process per run."""

    def __init__(self, handler: JobHandler, *, workers: int, nice: int = WORKER_NICE) -> None:
        self._handler = handler
        self._executor = ThreadPoolExecutor(
            max_workers=workers,
            thread_name_prefix="run",
            initializer=lower_thread_priority,
            initargs=(nice,),
        )
        self._jobs: dict[str, tuple[Future[None], threading.Event]] = {}
        self._lock = threading.Lock()

    def submit(self, job: RunJob) -> None:
        stop = threading.Event()
        with self._lock:
            future = self._executor.submit(self._run, job, stop)
            self._jobs[job.run_id] = (future, stop)

    def cancel(self, run_id: str) -> bool:
        with self._lock:
            found = self._jobs.get(run_id)
        if found is None:
            return False
        future, stop = found
        stop.set()
        if not future.cancel():
            return False
        with self._lock:
            self._jobs.pop(run_id, None)
        return True

    def shutdown(self) -> None:
        with self._lock:
            jobs = list(self._jobs.values())
        for future, stop in jobs:
            stop.set()
            future.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    def pending(self) -> int:
        """Jobs submitted and not yet finished (waiting or running)."""
        with self._lock:
            return len(self._jobs)

    def _run(self, job: RunJob, stop: threading.Event) -> None:
        try:
            self._handler(job, stop)
        except Exception:
            logger.exception("run handler failed run_id=%s", job.run_id)
        finally:
            with self._lock:
                self._jobs.pop(job.run_id, None)
