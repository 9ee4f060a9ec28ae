"""Forked sandbox workers for tests whose runs are not about a worker's cold start.

A run that `RunService` or a walk-forward starts without a worker gets a new interpreter
(`sandbox.start_worker()`): ~2.3 s of CPU in imports, against ~0.45 s for a child of a warm
fork server, as every run of the server's job pool gets. The tests of the CLI, the run service
and the research commands make many such runs to check what the run does, not how its worker
started; they fork theirs from one fork server per test module instead (`forked_run_workers`
in tests/conftest.py). Each run still gets its own child, confined afresh: the server holds
no run's state.

Starting the server costs what two or three runs save (its imports and warm-up, ~3 s of
CPU), and many of these runs end before a fresh worker's imports would (refused input, a
limit), so a module's first FRESH_RUNS runs still start from scratch and the server is
started for the next one: a module with a few runs pays nothing more than before, one with
twenty saves ~30 s of CPU. The server is closed with its module: tests later on the same xdist
worker count the sandbox processes left over (tests/sandbox/test_attacks.py,
test_pool_shutdown.py). A test of the cold path is marked `fresh_worker`; those that check
what `strategylab run` starts set `start_worker` themselves and keep the cold path too.
"""

from __future__ import annotations

import threading
from types import ModuleType

import pytest

from sandbox import ForkServer, WarmWorker, start_fork_server, start_worker

FRESH_WORKER_MARK = "fresh_worker"
"""The marker of a test whose runs start their workers from scratch, as the product does."""
FRESH_RUNS = 4
"""Runs of a module that start from scratch before its fork server is started."""


class ModuleForkServer:
    """The workers of one test module's runs: the first FRESH_RUNS started from scratch, the
    others forked by a fork server started for the next one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ForkServer | None = None
        self._runs = 0

    def start_worker(self) -> WarmWorker:
        """A worker for one run: from scratch, or forked by this module's server."""
        with self._lock:
            self._runs += 1
            if self._runs <= FRESH_RUNS:
                server = None
            else:
                if self._server is None or not self._server.is_alive:
                    self._server = start_fork_server()
                server = self._server
        return start_worker(server)

    def close(self) -> None:
        """Stop the server, if one was started (its children still running are killed)."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.close()


def fork_runs_from(
    server: ModuleForkServer, monkeypatch: pytest.MonkeyPatch, *modules: ModuleType
) -> None:
    """Have each of `modules` (those that call `start_worker()` for a run given no worker)
    fork its runs' workers from `server` for the rest of the test."""
    for module in modules:
        if hasattr(module, "start_worker"):
            monkeypatch.setattr(module, "start_worker", server.start_worker)
