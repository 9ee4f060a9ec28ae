"""Sweep trials: one prepared run under many param sets, each a sandboxed run of its own, run in
parallel from one fork server with the indicators shared, and kept as a summary.

Each trial is exactly a normal run (`app.runs.execute` with the run's limits, maximums and
every confinement layer, in a fresh child forked for it alone), except that its indicators come
from this process: `sandbox.SharedIndicators` checks each request as a run checks it, computes
each distinct setting once per runner and answers every trial with a copy, and its bars are
loaded once into the fork server (`ForkServer.load_market`, read-only arrays the children
inherit) instead of travelling in every trial's job. The parent keeps metrics.json's document,
the daily returns and the trade count per trial and drops the rest of the result at once, so
its memory stays flat however many trials run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from app.engine import EngineError, ParamValue, RunResult
from app.engine.feed import FloatArray, IntArray
from app.engine.loop import cut_after_end
from app.engine.metrics import day_end_indices
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
from sandbox.forkserver import PreloadedMarket

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
    ends = day_end_indices(curve.time)  # once: daily_returns would find them again
    day_equity = curve.equity[ends]
    # the returns the Sharpe was taken of, as metrics.daily_returns computes them
    returns = np.diff(day_equity) / day_equity[:-1] if len(day_equity) >= 2 else np.empty(0)
    day_ends = curve.time[ends][1:].copy()
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
    code (it holds the base's bars, read-only), and the shared indicators are computed here
    and sent to each child as a copy. At most `workers` children run at once; a trial's
    result is checked and summarised on its own thread while the next trial's child runs.
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
        self._market: PreloadedMarket | None = None  # the base's bars, in the fork server
        self._market_tried: ForkServer | None = None  # the server they were offered to
        # Twice the threads, but only `workers` sandboxed children at once: a thread gives
        # its slot back when its child has sent the result, so the next trial's child runs
        # while this thread checks and summarises the result (no core waits on the parent).
        self._slots = threading.Semaphore(workers)
        self._pool = ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="trial")
        self._is_closed = False
        self._stops: list[threading.Event] = []  # one entry per batch queued and not done
        self._stops_lock = threading.Lock()

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
        stop = cancel if cancel is not None else threading.Event()
        futures = self.submit_batch(param_sets, cancel=stop, numbers=numbers)
        try:
            return [future.result() for future in futures]
        except BaseException:  # Ctrl-C while waiting: the running trials are killed too
            stop.set()
            raise

    def submit_batch(
        self,
        param_sets: Sequence[Mapping[str, ParamValue]],
        *,
        cancel: threading.Event,
        numbers: Sequence[int] | None = None,
    ) -> list[Future[TrialOutcome | None]]:
        """Queue each param set as a trial and return at once: one future per set, in the
        order given, with the outcome run_batch would give. Trials start in the order queued,
        batch after batch, so a sweep can queue its next batch while this one runs and the
        workers never wait between batches (app.research.sweep). Every set is checked first
        (InvalidRunRequestError("params") before any trial is queued); setting `cancel`
        kills the running trials of the batch, and those not finished come out None."""
        del numbers
        if self._is_closed:
            raise RuntimeError("the trial runner is closed")
        prepared = [with_params(self._base, params) for params in param_sets]
        if not prepared:
            return []
        with self._stops_lock:  # close() (after Ctrl-C in the caller, say) stops these
            self._stops.append(cancel)
        futures = [self._pool.submit(self._run_one, run, cancel) for run in prepared]
        left = [len(futures)]

        def forget(_: Future[TrialOutcome | None]) -> None:
            with self._stops_lock:
                left[0] -= 1
                if left[0] == 0:
                    self._stops.remove(cancel)

        for future in futures:
            future.add_done_callback(forget)
        return futures

    def _run_one(self, prepared: PreparedRun, cancel: threading.Event) -> TrialOutcome | None:
        params = prepared.inputs.config.param_dict
        if cancel.is_set():
            return None
        try:
            worker = self._spawn()
            try:
                if cancel.is_set():  # the fork server may have been warming up meanwhile
                    return None
                result = execute(
                    prepared,
                    cancel=cancel,
                    worker=worker,
                    indicators=self._indicators,
                    summary_only=True,
                )
            finally:
                worker.close()  # run_sandboxed closed it already, unless it raised before
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
        """A fresh worker forked for one trial (the fork server restarted if it died), once
        one of the `workers` slots is free; the slot is given back when the worker is closed
        (at the end of its run, before its result is decoded)."""
        self._slots.acquire()
        try:
            server, market = self._live_server()
            return SlottedWorker(server, self._slots, market)
        except BaseException:
            self._slots.release()
            raise

    def _live_server(self) -> tuple[ForkServer, PreloadedMarket | None]:
        """The fork server (restarted if it died) and the base's market loaded into it once
        (None if it refused it: each job then carries the market, as a normal run's)."""
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
            if self._market_tried is not server:  # once per server, refused or not
                self._market_tried = server
                self._market = None
                try:
                    self._market = server.load_market(self._base.market)
                except ForkServerError as error:
                    logger.warning("the sweep's market could not be preloaded: %s", error)
            return server, self._market

    def close(self) -> None:
        """Kill the running trials' workers, then stop the fork server. Safe to call twice."""
        if self._is_closed:
            return
        self._is_closed = True
        with self._stops_lock:
            stops = list(self._stops)
        for stop in stops:
            stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._server_lock:
            server, self._server = self._server, None
            market, self._market = self._market, None
        if server is not None and self._owns_server:
            server.close()
        elif server is not None and market is not None:  # a lent server: its market goes
            server.unload_market(market)

    def __enter__(self) -> TrialRunner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SlottedWorker(WarmWorker):
    """A trial's worker holding one of its runner's slots (a semaphore of `workers`) until
    it is closed: run_sandboxed closes it as soon as the run's last message is read."""

    def __init__(
        self, server: ForkServer, slot: threading.Semaphore, market: PreloadedMarket | None
    ) -> None:
        super().__init__(forkserver=server, market=market)
        self._slot: threading.Semaphore | None = slot
        self._slot_lock = threading.Lock()

    def close(self) -> None:
        super().close()
        with self._slot_lock:
            slot, self._slot = self._slot, None
        if slot is not None:
            slot.release()


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
