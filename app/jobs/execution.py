"""The one call that executes a run: strategy source on market data, inside the sandbox.

Every run of the platform goes through here, so switching the execution backend (a remote
worker, a container) changes this module only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.engine import MarketData, Progress, RunConfig, RunResult
from sandbox import WarmWorker, run_sandboxed

STRATEGY_FILENAME = "strategy.py"


def execute_run(
    *,
    code: str,
    market: MarketData,
    config: RunConfig,
    on_progress: Callable[[Progress], None],
    cancel: threading.Event,
    worker: WarmWorker | None = None,
) -> RunResult:
    """Validate and run `code` in an isolated sandbox worker process; blocks until it ends.

    `worker` is a pre-started worker (from a sandbox.WorkerPool) to run in; it is killed at the
    run's end whatever happens. Without one a worker is started now.

    Raises the sandbox's exceptions (StrategyRejected, StrategyFailed, LimitExceeded,
    RunCancelled, WorkerFailed) and the engine's (ConfigError, StrategyDefinitionError, ...).
    """
    return run_sandboxed(
        code,
        market,
        config,
        on_progress=on_progress,
        cancel=cancel,
        filename=STRATEGY_FILENAME,
        worker=worker,
    )
