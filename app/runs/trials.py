"""Sweep trials: one prepared run under many param sets, each a sandboxed run of its own, run in
parallel from one fork server with the indicators shared, and kept as a summary.

Each trial is exactly a normal run (`app.runs.execute` with the run's limits, maximums and
every confinement layer, in a fresh child forked for it alone), except that its indicators come
from this process: `sandbox.SharedIndicators` checks each request as a run checks it, computes
each distinct setting once per runner and answers every trial with a copy. The parent keeps
metrics.json's document, the daily returns and the trade count per trial and drops the rest of
the result at once, so its memory stays flat however many trials run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from app.engine import EngineError, ParamValue, RunResult
from app.engine.feed import FloatArray, IntArray
from app.engine.loop import cut_after_end
from app.engine.metrics import daily_returns, day_end_indices
from app.runs.errors import InvalidRunRequestError
from app.runs.execute import execute
from app.runs.folder import metrics_document
from app.runs.prepare import PreparedRun, with_params
from sandbox import (
    ForkServer,
    ForkServerError,
    RunCancelled,
    SandboxError,
    SharedIndicators,
    WarmWorker,
    start_fork_server,
)

logger = logging.getLogger(__name__)

MAX_WORKERS: Final = 256


@dataclass(frozen=True, slots=True)
class TrialRun:
    """A finished trial, summarised.

    `params`: every param, typed (defaults included). `metrics`: exactly the document a
    standalone run's metrics.json holds (`{"metrics": ..., "conventions": ...}`, as
    `app.runs.folder.metrics_document` builds it). `daily_returns[i]`: the change of day-end
    equity (engine convention: equity at the close of the last bar of each UTC day) from the
    day before to the day whose last bar opens at `day_ends[i]` (epoch ns); the same days for
    every trial of a runner. `trades`: closed trades.
    """

    params: dict[str, ParamValue]
    metrics: dict[str, Any]
    daily_returns: FloatArray
    day_ends: IntArray
    trades: int

    @property
    def figures(self) -> dict[str, Any]:
        """The metric values by name (`metrics["metrics"]`)."""
        figures: dict[str, Any] = self.metrics["metrics"]
        return figures


@dataclass(frozen=True, slots=True)
class TrialFailed:
    """A trial that did not finish: its params and one sentence on why (the strategy's error,
    the limit it hit, the worker's failure)."""

    params: dict[str, ParamValue]
    reason: str


TrialOutcome = TrialRun | TrialFailed


def summarize_trial(params: dict[str, ParamValue], result: RunResult) -> TrialRun:
    """What a sweep keeps of a finished run (see TrialRun)."""
    curve = result.equity
    returns = daily_returns(curve.time, curve.equity)  # the returns the Sharpe was taken of
    day_ends = curve.time[day_end_indices(curve.time)][1:].copy()
    return TrialRun(
        params=params,
        metrics=metrics_document(result),
        daily_returns=returns,
        day_ends=day_ends[: len(returns)],
        trades=len(result.trades),
    )


class TrialRunner:
    """Runs trials of `base` (a PreparedRun) with other params on `workers` parallel sandboxed
    workers forked from one fork server; use it as a context manager or call `close()`.

    Every trial is a fresh confined child, as a normal run (same limits, same layers); nothing
    of one trial reaches another: each child is forked anew from a server that never saw user
    code, and the shared indicators are computed here and sent to each child as a copy.
    `forkserver` lends a running fork server (walk-forward folds, one runner each, share one
    and save its warm-up); it stays open at `close()`. Without one the runner starts its own.
    Raises InvalidRunRequestError("workers") for a worker count outside 1..MAX_WORKERS and
    LimitsRefused for limits above the operator's maximums, before anything starts.
    """

    def __init__(
        self, base: PreparedRun, *, workers: int, forkserver: ForkServer | None = None
    ) -> None:
        if type(workers) is not int or not 1 <= workers <= MAX_WORKERS:
            raise InvalidRunRequestError(
                "workers", f"must be a whole number from 1 to {MAX_WORKERS}, not {workers!r}"
            )
        base.limits.checked(base.maximums)  # LimitsRefused now, not once per trial
        self._base = base
        self._workers = workers
        market = cut_after_end(base.market, base.inputs.config.end)
        self._indicators = SharedIndicators(market)
        threading.Thread(  # the libraries load while the fork server warms up
            target=self._indicators.prepare, name="trial-indicators", daemon=True
        ).start()
        self._server_lock = threading.Lock()
        self._owns_server = forkserver is None
        self._server: ForkServer | None = forkserver or start_fork_server()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="trial")
        self._is_closed = False
        self._stops: set[threading.Event] = set()

    @property
    def base(self) -> PreparedRun:
        return self._base

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def indicator_computations(self) -> int:
        """Distinct indicator settings computed so far for this runner's trials."""
        return self._indicators.computations

    def run_batch(
        self,
        param_sets: Sequence[Mapping[str, ParamValue]],
        *,
        cancel: threading.Event | None = None,
        numbers: Sequence[int] | None = None,
    ) -> list[TrialOutcome | None]:
        """Run each param set as a trial, in parallel; outcomes in the order given
        (`numbers`, the trials' numbers in their study, are not needed here).

        Every set is checked first (InvalidRunRequestError("params") before any trial runs).
        A trial that fails is a TrialFailed and the others go on. When `cancel` is set the
        running trials' workers are killed; those not finished are None. An exception while
        waiting (KeyboardInterrupt) sets `cancel` too, so no trial outlives the batch.
        """
        del numbers
        if self._is_closed:
            raise RuntimeError("the trial runner is closed")
        prepared = [with_params(self._base, params) for params in param_sets]
        stop = cancel if cancel is not None else threading.Event()
        self._stops.add(stop)  # close() (after Ctrl-C in the caller, say) stops these trials
        try:
            futures = [self._pool.submit(self._run_one, run, stop) for run in prepared]
            return [future.result() for future in futures]
        except BaseException:  # Ctrl-C while waiting: the running trials are killed too
            stop.set()
            raise
        finally:
            self._stops.discard(stop)

    def _run_one(self, prepared: PreparedRun, cancel: threading.Event) -> TrialOutcome | None:
        params = prepared.inputs.config.param_dict
        if cancel.is_set():
            return None
        try:
            worker = self._spawn()
            if cancel.is_set():  # the fork server may have been warming up meanwhile
                worker.close()
                return None
            result = execute(
                prepared,
                cancel=cancel,
                worker=worker,
                indicators=self._indicators,
                summary_only=True,
            )
        except RunCancelled:
            return None
        except (SandboxError, EngineError, ForkServerError) as error:
            return TrialFailed(dict(params), _sentence(error))
        except OSError as error:  # no processes or descriptors left for a worker, say
            logger.warning("a trial's worker could not start: %s", error)
            reason = f"the trial's worker could not start: {error.strerror or error}"
            return TrialFailed(dict(params), _sentence(reason))
        return summarize_trial(dict(params), result)

    def _spawn(self) -> WarmWorker:
        """A fresh worker forked for one trial (the fork server restarted if it died)."""
        with self._server_lock:
            if self._is_closed:
                raise ForkServerError("the trial runner is closed")
            if self._server is not None and not self._server.is_alive:
                logger.warning("the sweep's fork server died; starting a new one")
                if self._owns_server:
                    self._server.close()
                self._server = None
                self._owns_server = True
            if self._server is None:
                self._server = start_fork_server()
            server = self._server
        return WarmWorker(forkserver=server)

    def close(self) -> None:
        """Kill the running trials' workers, then stop the fork server. Safe to call twice."""
        if self._is_closed:
            return
        self._is_closed = True
        for stop in list(self._stops):
            stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._server_lock:
            server, self._server = self._server, None
        if server is not None and self._owns_server:
            server.close()

    def __enter__(self) -> TrialRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _sentence(error: Exception | str) -> str:
    """The error as one sentence for a trial's row."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if text.endswith((".", "!", "?", ")")) else f"{text}."


__all__ = [
    "TrialFailed",
    "TrialOutcome",
    "TrialRun",
    "TrialRunner",
    "summarize_trial",
]
