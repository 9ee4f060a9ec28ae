"""Execute a prepared run: its strategy source on its market data, inside the sandbox.

The one caller of `sandbox.run_sandboxed` in the product: the CLI, the job runner and (later)
sweeps and remote workers all arrive here with a PreparedRun, so switching the execution
backend (a remote worker, a container) changes this module only.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from app.engine import ProgressCallback, RunResult
from app.engine.checkpoint import Checkpoint, CheckpointCallback
from app.runs.prepare import PreparedRun
from sandbox import ChartRequest, SharedIndicators, WarmWorker, run_sandboxed

if TYPE_CHECKING:
    from sandbox.supervisor import ResultCopy


def execute(
    prepared: PreparedRun,
    *,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    worker: WarmWorker | None = None,
    indicators: SharedIndicators | None = None,
    summary_only: bool = False,
    on_checkpoint: CheckpointCallback | None = None,
    resume: Checkpoint | None = None,
    chart: ChartRequest | None = None,
    capture: ResultCopy | None = None,
) -> RunResult:
    """Run `prepared` in an isolated sandbox worker process; blocks until it ends.

    `worker` is a pre-started worker (sandbox.start_worker or a WorkerPool) to run in; it is
    killed at the run's end whatever happens. Without one a worker is started now.
    `indicators` (a sweep's trials, app.runs.trials) serves the run's indicators from values
    computed once per sweep; the results are the same. `summary_only` (sweep trials too)
    brings back trades, the equity curve and the metrics, without orders or log lines.
    `on_checkpoint` receives the run's checked checkpoints (`config.checkpoint_every`);
    `resume` continues the run from one of them, with the same result. `chart` gets the
    values of the indicators the run computed at its price chart's points (indicators.json),
    so they are not computed again.
    `capture` keeps the worker's checked result message (a `strategylab worker` forwards it to
    the web node: app.jobs.fold_test_job).

    Raises the sandbox's exceptions (StrategyRejected, StrategyFailed, LimitExceeded,
    LimitsRefused, RunCancelled, WorkerFailed) and the engine's (ConfigError,
    StrategyDefinitionError, ...).
    """
    inputs = prepared.inputs
    return run_sandboxed(
        inputs.code,
        prepared.market,
        inputs.config,
        prepared.limits,
        on_progress=on_progress,
        cancel=cancel,
        strategy_name=inputs.strategy_class or None,
        filename=inputs.filename,
        maximums=prepared.maximums,
        worker=worker,
        indicators=indicators,
        summary_only=summary_only,
        on_checkpoint=on_checkpoint,
        resume=resume,
        chart=chart,
        capture=capture,
    )
