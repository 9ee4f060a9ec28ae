"""The run queue: the protocol every backend honours, fair turns between users, the local pool.

`JobQueue` is the one interface the web app submits runs to. Two backends implement it: the
embedded default `LocalProcessPool` here (at most `workers` runs at once, each supervised by
one pool thread and executed in its own sandbox worker process through app.runs.execute), and
`app.jobs.redis_queue.RedisJobQueue` (RQ on Redis, chosen by STRATEGYLAB_REDIS_URL), whose
runs execute in `strategylab worker` processes on any machine.

Fairness: waiting runs queue per owner, and a free worker takes the next owner's oldest run in
turn (round-robin), so one user's thousand queued runs delay another user's single run by at
most one run per worker, not by a thousand. Within one owner runs start in submission order.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sandbox import lower_thread_priority

logger = logging.getLogger(__name__)

WORKER_NICE = 10
"""Niceness of the pool's threads and so of the sandbox processes they start (and of the
WorkerPool's starter thread, for the pre-started ones): backtests yield the CPU to the API and
websockets, which stay responsive while every worker is busy."""

LOCAL_OWNER = "local"
"""The owner of runs with none recorded (the single local user, runs stored before accounts)."""


@dataclass(frozen=True, slots=True)
class RunJob:
    """What a worker needs to pick a run up: its id (the rest is in the database)."""

    run_id: str


JobHandler = Callable[[RunJob, threading.Event], None]
"""Executes one job; the event is set when the run must stop (cancel or shutdown)."""

OwnerOf = Callable[[str], str]
"""Whose turn a run takes: the owner key of a run id (app.jobs.owners.run_owner)."""


def local_owner(run_id: str) -> str:
    """Every run belongs to the single local user (no accounts): plain first-in, first-out."""
    return LOCAL_OWNER


class JobQueue(Protocol):
    """Where runs wait for a worker."""

    def submit(self, job: RunJob) -> None:
        """Queue a job; it starts when a worker is free and its owner's turn comes."""
        ...

    def cancel(self, run_id: str) -> bool:
        """Ask a job to stop; True if it had not started (it never will)."""
        ...

    def shutdown(self) -> None:
        """Stop every job this process runs, drop the waiting ones it holds, wait for the
        workers to end."""
        ...


class FairTurns[T]:
    """Items waiting per owner; `pop` takes the oldest item of the next owner in turn.

    Owners take turns in the order they first queued something; an owner whose items are all
    taken leaves the rotation and joins at the end when it queues again. Not thread-safe: the
    caller holds its own lock.
    """

    def __init__(self) -> None:
        self._owners: OrderedDict[str, deque[tuple[str, T]]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(items) for items in self._owners.values())

    def push(self, owner: str, key: str, item: T) -> None:
        """Queue `item` (found again by `key`) behind `owner`'s earlier items."""
        self._owners.setdefault(owner, deque()).append((key, item))

    def pop(self) -> T | None:
        """The next owner's oldest item, that owner moved to the end of the rotation."""
        if not self._owners:
            return None
        owner, items = next(iter(self._owners.items()))
        _, item = items.popleft()
        del self._owners[owner]
        if items:
            self._owners[owner] = items
        return item

    def remove(self, key: str) -> T | None:
        """Take the waiting item with `key` out; None when none waits."""
        for owner, items in self._owners.items():
            for index, (found, item) in enumerate(items):
                if found == key:
                    del items[index]
                    if not items:
                        del self._owners[owner]
                    return item
        return None

    def clear(self) -> list[T]:
        """Every waiting item, removed."""
        items = [item for queued in self._owners.values() for _, item in queued]
        self._owners.clear()
        return items


class LocalProcessPool:
    """A JobQueue on this machine: `workers` supervisor threads, one sandbox process per run,
    runs taken round-robin between owners (`owner_of`)."""

    def __init__(
        self,
        handler: JobHandler,
        *,
        workers: int,
        nice: int = WORKER_NICE,
        owner_of: OwnerOf = local_owner,
    ) -> None:
        self._handler = handler
        self._owner_of = owner_of
        self._nice = nice
        self._waiting: FairTurns[RunJob] = FairTurns()
        self._handed: deque[RunJob] = deque()  # given to an idle thread: started, not waiting
        self._idle = 0
        self._stops: dict[str, threading.Event] = {}
        self._is_closed = False
        self._changed = threading.Condition()
        self._threads = [
            threading.Thread(target=self._serve, name=f"run-{number}", daemon=True)
            for number in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: RunJob) -> None:
        owner = self._owner_of(job.run_id)
        with self._changed:
            if self._is_closed:
                logger.warning("run not queued: the pool is shut down run_id=%s", job.run_id)
                return
            self._stops[job.run_id] = threading.Event()
            if self._idle > len(self._handed):  # nothing waits: an idle thread starts it now
                self._handed.append(job)
            else:
                self._waiting.push(owner, job.run_id, job)
            self._changed.notify()

    def cancel(self, run_id: str) -> bool:
        with self._changed:
            stop = self._stops.get(run_id)
            if stop is None:
                return False
            stop.set()
            if self._waiting.remove(run_id) is None:
                return False
            del self._stops[run_id]
            return True

    def shutdown(self) -> None:
        with self._changed:
            self._is_closed = True
            for job in self._waiting.clear():
                self._stops.pop(job.run_id, None)
            for stop in self._stops.values():
                stop.set()
            self._changed.notify_all()
        for thread in self._threads:
            thread.join()

    def pending(self) -> int:
        """Jobs submitted and not yet finished (waiting or running)."""
        with self._changed:
            return len(self._stops)

    def _serve(self) -> None:
        lower_thread_priority(self._nice)
        while True:
            with self._changed:
                self._idle += 1
                while not self._is_closed and not self._handed and not len(self._waiting):
                    self._changed.wait()
                self._idle -= 1
                job = self._handed.popleft() if self._handed else self._waiting.pop()
                if job is None:  # closed and nothing left
                    return
                stop = self._stops[job.run_id]
            try:
                self._handler(job, stop)
            except Exception:
                logger.exception("run handler failed run_id=%s", job.run_id)
            finally:
                with self._changed:
                    self._stops.pop(job.run_id, None)
