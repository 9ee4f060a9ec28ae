"""Pre-started sandbox workers: a few kept ready so a run never waits for a worker's start-up.

Each worker still serves exactly one run (run_sandboxed kills it at the run's end); the pool
only moves the start-up off the run's path. By default workers are forked by the pool's own
fork server (sandbox.forkserver: ~20 ms each instead of ~1 s of imports and warm-up).
Idle workers hold no user code and exit on their own when this process goes away: their stdin
is a pipe from here, and a closed pipe ends a worker waiting for its job.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Final

from sandbox.forkserver import ForkServer, ForkServerError
from sandbox.supervisor import WarmWorker, start_fork_server

logger = logging.getLogger(__name__)

SWEEP_S: Final = 1.0
"""How often the pool looks for idle workers that died, to replace them."""
RETRY_S: Final = 5.0
"""Pause after a worker failed to start (no processes left, say) before trying again."""
CLOSE_WAIT_S: Final = 10.0

WorkerStarter = Callable[[], WarmWorker]


class WorkerPool:
    """Keeps `size` sandbox workers started ahead of time; `take()` hands one out per run.

    A background thread starts the workers, at niceness `nice` (Linux: set on that thread, and
    inherited by the processes it starts), and replaces each one taken or found dead. Safe to
    use from several threads. `close()` kills the idle workers; workers already taken belong
    to their run.
    """

    def __init__(self, size: int, *, nice: int = 0, start: WorkerStarter | None = None) -> None:
        if size < 1:
            raise ValueError(f"a worker pool needs at least one worker, not {size}")
        self._nice = nice
        self._start = start or self._fork
        self._server: ForkServer | None = None
        self._server_lock = threading.Lock()
        self._idle: deque[WarmWorker] = deque()
        self._missing = size
        self._is_closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(
            target=self._keep_filled, name="sandbox-worker-pool", daemon=True
        )
        self._thread.start()

    def take(self) -> WarmWorker:
        """A started, live worker for one run: a ready one if any, otherwise one started now
        (in the calling thread, so at its priority). A replacement starts in the background."""
        dead: list[WarmWorker] = []
        found: WarmWorker | None = None
        with self._changed:
            while self._idle and found is None:
                worker = self._idle.popleft()
                self._missing += 1
                if worker.process.poll() is None:
                    found = worker
                else:
                    dead.append(worker)
            self._changed.notify_all()
        _close_dead(dead)
        if found is not None:
            return found
        logger.debug("no sandbox worker ready; starting one now")
        return self._start()

    def idle_count(self) -> int:
        """Workers started and waiting for a run (some may still be importing)."""
        with self._changed:
            return len(self._idle)

    def close(self) -> None:
        """Stop replacing workers and kill the idle ones; take() then starts unpooled workers."""
        with self._changed:
            self._is_closed = True
            idle = list(self._idle)
            self._idle.clear()
            self._changed.notify_all()
        for worker in idle:
            worker.close()
        # The server first: a starter thread waiting for it to warm up (seconds) stops waiting.
        with self._server_lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()
        self._thread.join(CLOSE_WAIT_S)

    def _fork(self) -> WarmWorker:
        """The default starter: a worker forked by the pool's fork server (started, or started
        again after it died, on first need); a new interpreter if no fork server can run."""
        with self._server_lock:
            if self._server is not None and not self._server.is_alive:
                self._server.close()
                self._server = None
            if self._server is None and not self._is_closed:
                self._server = start_fork_server(nice=self._nice)
            server = self._server
        if server is None:
            return WarmWorker()
        try:
            return WarmWorker(forkserver=server)
        except ForkServerError as error:
            if not self._is_closed:  # closed while it warmed up: the stop is no fault
                logger.warning("fork server unusable (%s); starting a worker from scratch", error)
            return WarmWorker()

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the starter thread -----------------------------------------------------------------

    def _keep_filled(self) -> None:
        lower_thread_priority(self._nice)
        while self._wait_for_gap():
            if not self._start_one():
                with self._changed:
                    self._missing += 1
                    self._changed.wait(RETRY_S)

    def _wait_for_gap(self) -> bool:
        """Block until a worker is missing, replacing idle ones found dead; False once closed."""
        while True:
            with self._changed:
                if self._is_closed:
                    return False
                dead = self._remove_dead()
                has_gap = self._missing > 0
                if has_gap:
                    self._missing -= 1
                elif not dead:
                    self._changed.wait(SWEEP_S)
            _close_dead(dead)
            if has_gap:
                return True

    def _start_one(self) -> bool:
        try:
            worker = self._start()
        except Exception:  # the pool's thread must survive (no processes left, say)
            logger.exception("cannot start a sandbox worker; retrying in %.0f s", RETRY_S)
            return False
        with self._changed:
            if not self._is_closed:
                self._idle.append(worker)
                self._changed.notify_all()
                return True
        worker.close()
        return True

    def _remove_dead(self) -> list[WarmWorker]:
        """Take idle workers that died out of the pool (lock held); each will be replaced."""
        dead = [worker for worker in self._idle if worker.process.poll() is not None]
        for worker in dead:
            self._idle.remove(worker)
            self._missing += 1
            logger.warning(
                "idle sandbox worker died pid=%s code=%s; replacing it",
                worker.process.pid,
                worker.process.returncode,
            )
        return dead


def _close_dead(workers: list[WarmWorker]) -> None:
    for worker in workers:
        worker.close()


def lower_thread_priority(nice: int) -> None:
    """Set the calling thread's niceness to `nice`; processes it starts inherit it.

    On Linux the nice value belongs to the thread (setpriority(2), "BUGS"), so only this thread
    and what it starts are lowered, never the rest of the process. Elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux") or nice <= 0:
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except OSError as error:
        logger.warning("cannot lower the worker priority: %s", error)


__all__ = ["WorkerPool", "lower_thread_priority"]
