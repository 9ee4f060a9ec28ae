"""Sweeps from queued to finished in the background: states, the sweep thread, restart resume.

States change only through SWEEP_TRANSITIONS, each an atomic conditional update (as runs do,
app.jobs.runner). A sweep's search is an Optuna study stored in the app's own database
(`storage_url`, the same DATABASE_URL), so it survives the server: a sweep left running by a
stop or a crash goes back to queued at the next start and continues its study where it
stopped, no trial run twice and none lost (app.research.sweep takes trials left running up
again with their stored params). Finished trials are stored as rows (the trials table, the
heatmap) as each batch is told, and streamed to the sweep's viewers.

Fair share with single runs: sweeps run one at a time, in one thread whose niceness (and so
that of its trial workers) is SWEEP_NICE, lower in priority than the runs' WORKER_NICE, with
`trial_workers` sandboxed trial processes (max(1, workers // 2) by default). Single runs keep
every one of their `workers` slots, so a sweep never makes a run wait for a slot, and when
both compete for the CPU the kernel gives each run's process about three times the share of
one trial's (CFS weights 110 at nice 10 against 36 at nice 15).

With STRATEGYLAB_REDIS_URL set (`trials` is app.jobs.remote_trials.RedisSweepTrials, `tests`
app.jobs.fold_tests.RedisFoldTests), the sweep thread keeps only the study (ask, tell, store,
stream): the trials and a walk-forward's test runs execute on `strategylab worker`
processes, on the sweep owner's queue, taking turns with every other user's runs and trials;
`sweep_threads` sweeps then run at once on a node (their threads only wait for workers). A
web node stopping leaves its open trials to the workers; the next start resumes the study and
collects them. Several web nodes share the sweeps through `leases`
(app.jobs.sweep_leases): a node runs a sweep only once it holds its lease, queues again only
the running sweeps whose node is gone (looking every ADOPT_INTERVAL_S), and a cancel on any
node reaches the node running the sweep.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import typing
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

import numpy as np
from sqlalchemy import Engine

from app.data.catalog import DatasetCatalog
from app.data.errors import DataError
from app.db import crud
from app.db.models import RunStatus, SweepRow, SweepTrialRow, utc_now
from app.db.session import session_scope
from app.engine import EngineError
from app.jobs.errors import RunStorageError, SweepStateError
from app.jobs.queue import WORKER_NICE
from app.jobs.sweep_leases import ADOPT_INTERVAL_S, SweepLeases
from app.jobs.sweep_progress import Message, SweepHub
from app.jobs.sweep_requests import SweepRequest, build_spec
from app.jobs.walkforward_requests import WalkRequest, build_walkforward, walk_of
from app.research.errors import ResearchInputError
from app.research.study import storage_at
from app.research.sweep import (
    SweepProgress,
    SweepResult,
    TrialRecord,
    TrialRunnerFactory,
    figures,
    local_trials,
    run_sweep,
)
from app.research.walkforward import FoldTestFactory, WalkForwardProgress, local_tests
from app.runs import PreparedRun, RunService
from sandbox import SandboxError, StrategyRejected, lower_thread_priority
from sandbox.text import clean_json, clean_text

logger = logging.getLogger(__name__)

SWEEP_NICE: Final = WORKER_NICE + 5
SWEEP_TRANSITIONS: Final[dict[RunStatus, frozenset[RunStatus]]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED}),
    # RUNNING -> QUEUED: the server stopped mid-sweep; the next start resumes the study.
    RunStatus.RUNNING: frozenset(
        {RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.QUEUED}
    ),
    RunStatus.DONE: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}
SWEEP_TERMINAL: Final = frozenset(s for s, after in SWEEP_TRANSITIONS.items() if not after)
FAILURES: Final = (ResearchInputError, StrategyRejected, SandboxError, EngineError, DataError)
"""What ends a sweep failed with its own sentence (anything else is an internal error)."""
MAX_CURVE_POINTS: Final = 2_000
DELETE_WAIT_S: Final = 30.0
"""How long a delete waits for a cancelled sweep's thread to stop before answering 409, s."""
CANCELLED_MESSAGE: Final = "the sweep was cancelled; the trials it finished are kept"

SweepFunction = Callable[..., SweepResult]
"""app.research.sweep.run_sweep's signature (a stand-in in tests)."""
SweepTrials = Callable[[SweepRow, Callable[[], bool]], TrialRunnerFactory]
"""Where a sweep's trials execute: the factory of its trial runners, given the sweep and a
check of whether this node is stopping (not cancelling: open trials may go on elsewhere)."""
SweepTests = Callable[[SweepRow, Callable[[], bool]], FoldTestFactory]
"""Where a walk-forward's test windows execute, given the same (app.jobs.fold_tests)."""


def trials_here(sweep: SweepRow, is_pausing: Callable[[], bool]) -> TrialRunnerFactory:
    """The embedded default: every sweep's trials on this machine's sandboxed workers."""
    del sweep, is_pausing
    return local_trials


def tests_here(sweep: SweepRow, is_pausing: Callable[[], bool]) -> FoldTestFactory:
    """The embedded default: every walk-forward's test runs in this machine's sandbox."""
    del sweep, is_pausing
    return local_tests


def sweep_sources(target: RunStatus) -> frozenset[RunStatus]:
    """The states a sweep may move to `target` from."""
    return frozenset(s for s, after in SWEEP_TRANSITIONS.items() if target in after)


def default_trial_workers(workers: int) -> int:
    """Trial processes of the one running sweep: half the run slots, at least one."""
    return max(1, workers // 2)


def study_name_of(sweep_id: str) -> str:
    """The name of a sweep's Optuna study in the app's database."""
    return f"strategylab-sweep-{sweep_id}"


def storage_url_of(engine: Engine) -> str:
    """The app's database URL, password included, for Optuna's storage."""
    return engine.url.render_as_string(hide_password=False)


def trial_message(record: TrialRecord) -> Message:
    """A finished trial as the API and the websocket show it (metrics: metrics.json's
    figures)."""
    return {
        "type": "trial",
        "number": record.number,
        "params": dict(record.params),
        "metrics": crud.json_safe(dict(figures(record.metrics))),
        "feasible": record.feasible,
        "error": record.error,
        "infeasible_reason": record.infeasible_reason,
        "values": list(record.values) if record.values is not None else None,
    }


def trial_row(record: TrialRecord) -> SweepTrialRow:
    """A finished trial as its database row."""
    message = trial_message(record)
    return SweepTrialRow(
        sweep_id="",
        number=record.number,
        params=message["params"],
        metrics=message["metrics"],
        feasible=record.feasible,
        error=record.error,
        infeasible_reason=record.infeasible_reason,
        objective_values=message["values"],
    )


def progress_message(sweep: SweepRow, *, status: RunStatus | None = None) -> Message:
    """A sweep's stored progress as a websocket message."""
    best = sweep.best[0] if sweep.best else None
    return {
        "type": "progress",
        "status": (status or sweep.status).value,
        "trials_done": sweep.trials_done,
        "trials_total": sweep.trials_total,
        "trials_per_s": sweep.trials_per_s,
        "eta_s": sweep.eta_s,
        "best": best,
    }


def final_message(sweep: SweepRow) -> Message:
    """A finished sweep's last websocket message: `done` with its best, or `error`."""
    if sweep.status is RunStatus.DONE:
        return {
            "type": "done",
            "status": sweep.status.value,
            "best": sweep.best or [],
            "statistics": sweep.statistics,
        }
    error = sweep.error or {}
    return {"type": "error", "status": sweep.status.value, "message": error.get("message", "")}


class SweepRunner:
    """Owns the background sweeps of one server; created and stopped by the app's lifespan."""

    def __init__(
        self,
        *,
        engine: Engine,
        catalog: DatasetCatalog,
        service: RunService,
        hub: SweepHub,
        trial_workers: int,
        sweep: SweepFunction = run_sweep,
        trials: SweepTrials = trials_here,
        tests: SweepTests = tests_here,
        sweep_threads: int = 1,
        leases: SweepLeases | None = None,
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self._service = service
        self._hub = hub
        self._trial_workers = trial_workers
        self._sweep = sweep
        self._trials = trials
        self._tests = tests
        self._sweep_threads = sweep_threads
        self._leases = leases
        self._adopt_stop = threading.Event()
        self._executor: ThreadPoolExecutor | None = None
        self._jobs: dict[str, tuple[Future[None], threading.Event]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._is_stopping = False

    @property
    def trial_workers(self) -> int:
        return self._trial_workers

    # -- lifecycle (event loop) -------------------------------------------------------------

    def start(self) -> None:
        """Bind to the running loop, start the sweep thread, resume what was left."""
        self._loop = asyncio.get_running_loop()
        self._executor = ThreadPoolExecutor(
            max_workers=self._sweep_threads,
            thread_name_prefix="sweep",
            initializer=lower_thread_priority,
            initargs=(SWEEP_NICE,),
        )
        self.recover()
        if self._leases is not None:
            threading.Thread(target=self._adopt_forever, name="sweep-adopt", daemon=True).start()

    def recover(self) -> list[str]:
        """Queue again the sweeps a stop or a crash left running (with several nodes: only
        those whose node's lease has expired), then every queued sweep this node does not
        hold yet, in the order they were made; returns their ids."""
        queued = self._waiting_sweeps()
        self._submit_new(queued)
        return queued

    def _waiting_sweeps(self) -> list[str]:
        """The orphaned running sweeps moved back to queued; every queued sweep, oldest first
        (blocking: the database and Redis)."""
        with session_scope(self._engine) as session:
            for sweep in crud.list_sweeps(session, statuses=(RunStatus.RUNNING,), limit=10**6):
                if self._leases is not None and self._leases.is_held(sweep.id):
                    continue  # another node runs it
                self._move(session, sweep.id, RunStatus.QUEUED, None)
                logger.warning("sweep interrupted by a restart; resuming sweep_id=%s", sweep.id)
            waiting = crud.list_sweeps(session, statuses=(RunStatus.QUEUED,), limit=10**6)
            return [s.id for s in sorted(waiting, key=lambda sweep: sweep.created_at)]

    def _submit_new(self, sweep_ids: list[str]) -> None:
        """Submit those of `sweep_ids` this node does not hold yet (event loop)."""
        with self._lock:
            new = [sweep_id for sweep_id in sweep_ids if sweep_id not in self._jobs]
        for sweep_id in new:
            self.submit(sweep_id)

    def _adopt_forever(self) -> None:
        """With several nodes: take up the sweeps of nodes that went away, and the queued
        sweeps no live node holds."""
        while not self._adopt_stop.wait(ADOPT_INTERVAL_S):
            try:
                waiting = self._waiting_sweeps()
            except Exception as error:  # Redis or the database away: try again next round
                logger.warning("looking for orphaned sweeps failed: %s", error)
                continue
            if waiting and not self._is_stopping:
                self._call_in_loop(self._submit_new, waiting)

    def shutdown(self) -> None:
        """Stop every sweep after its running trials; running ones go back to queued (the
        next start resumes them)."""
        self._is_stopping = True
        self._adopt_stop.set()
        with self._lock:
            jobs = list(self._jobs.values())
        for future, stop in jobs:
            stop.set()
            future.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)

    # -- requests (event loop) --------------------------------------------------------------

    def submit(self, sweep_id: str) -> None:
        """Queue a stored, queued sweep."""
        if self._executor is None:
            raise RuntimeError("the sweep runner is not started")
        with session_scope(self._engine) as session:
            self._hub.open(sweep_id, progress_message(crud.get_sweep(session, sweep_id=sweep_id)))
        stop = threading.Event()
        with self._lock:
            future = self._executor.submit(self._execute, sweep_id, stop)
            self._jobs[sweep_id] = (future, stop)

    async def cancel(self, sweep_id: str, *, wait_s: float = 10.0) -> RunStatus:
        """Cancel a queued or running sweep (its running trials are killed); returns its
        status afterwards (a sweep slow to stop ends cancelled by itself)."""
        with session_scope(self._engine) as session:
            status = crud.get_sweep(session, sweep_id=sweep_id).status
            was_queued = status is RunStatus.QUEUED and self._move(
                session, sweep_id, RunStatus.CANCELLED, _error(CANCELLED_MESSAGE)
            )
        if status in SWEEP_TERMINAL:
            return status
        if self._leases is not None and not was_queued:
            self._leases.ask_cancel(sweep_id)  # reaches the node running it, this one or not
        with self._lock:
            found = self._jobs.get(sweep_id)
        if found is not None:
            found[1].set()  # a sweep that started meanwhile stops, and ends cancelled itself
            if found[0].cancel():
                self._forget(sweep_id)
        if was_queued:
            self._finish_stream(sweep_id)
        await self._hub.wait_finished(sweep_id, wait_s)
        with session_scope(self._engine) as session:
            return crud.get_sweep(session, sweep_id=sweep_id).status

    async def delete(self, sweep_id: str) -> None:
        """Delete a sweep, its trials and its Optuna studies (a walk-forward's fold studies
        too). A sweep still going is cancelled first and deleted once its thread has stopped;
        SweepStateError when that takes longer than DELETE_WAIT_S (nothing is deleted)."""
        with session_scope(self._engine) as session:
            status = crud.get_sweep(session, sweep_id=sweep_id).status  # unknown: not found
        if status not in SWEEP_TERMINAL:
            await self.cancel(sweep_id)
        with self._lock:
            found = self._jobs.get(sweep_id)
        if found is not None:
            _, pending = await asyncio.wait([asyncio.wrap_future(found[0])], timeout=DELETE_WAIT_S)
            if pending:
                raise SweepStateError(
                    sweep_id, RunStatus.RUNNING, "deleted until its trials stop; try again soon"
                )
        await asyncio.to_thread(self._delete_stored, sweep_id)

    def _delete_stored(self, sweep_id: str) -> None:
        name = study_name_of(sweep_id)
        with session_scope(self._engine) as session:
            crud.delete_sweep(session, sweep_id=sweep_id)
        with storage_at(storage_url_of(self._engine)) as storage:
            for study in storage.get_all_studies():
                if study.study_name == name or study.study_name.startswith(f"{name}-fold"):
                    storage.delete_study(storage.get_study_id_from_name(study.study_name))
        logger.info("sweep deleted sweep_id=%s", sweep_id)

    # -- the job (the sweep thread) ---------------------------------------------------------

    def _execute(self, sweep_id: str, stop: threading.Event) -> None:
        """Run one sweep to a terminal state (or back to queued when the server stops)."""
        try:
            self._run_job(sweep_id, stop)
        except Exception as error:
            logger.exception("sweep crashed sweep_id=%s", sweep_id)
            self._end(sweep_id, RunStatus.FAILED, _error(f"internal error: {error}"))
        finally:
            self._forget(sweep_id)

    def _run_job(self, sweep_id: str, stop: threading.Event) -> None:
        if self._leases is None:
            self._run_claimed(sweep_id, stop)
            return
        if not self._leases.claim(sweep_id):
            return  # another node runs it
        try:
            with session_scope(self._engine) as session:
                is_ours = crud.get_sweep(session, sweep_id=sweep_id).status is RunStatus.QUEUED
        except Exception:
            self._leases.release(sweep_id)
            raise
        if not is_ours:
            self._leases.release(sweep_id)
            return
        with self._leases.hold(sweep_id, stop):
            self._run_claimed(sweep_id, stop)

    def _run_claimed(self, sweep_id: str, stop: threading.Event) -> None:
        with session_scope(self._engine) as session:
            if not self._move(session, sweep_id, RunStatus.RUNNING, None):
                return
            sweep = crud.get_sweep(session, sweep_id=sweep_id)
        logger.info("sweep started sweep_id=%s", sweep_id)
        try:
            base = self._service.prepare_stored(
                code=sweep.code,
                dataset=sweep.dataset_version or sweep.dataset,
                config_data=sweep.config,
                catalog=self._catalog,
            )
            request = SweepRequest.from_dict(sweep.spec)
            trials = self._trials(sweep, lambda: self._is_stopping)
            walk = walk_of(sweep.spec)
            if walk is not None:
                tests = self._tests(sweep, lambda: self._is_stopping)
                self._run_walkforward(sweep_id, request, walk, base, stop, trials, tests)
                return
            spec = build_spec(request, base.inputs.inspection.defaults)
            result = self._sweep(
                spec,
                base,
                storage_url=storage_url_of(self._engine),
                study_name=sweep.study_name,
                workers=self._trial_workers,
                on_progress=lambda progress: self._on_progress(sweep_id, progress),
                cancel=stop,
                trials=trials,
            )
        except FAILURES as error:
            self._end(sweep_id, RunStatus.FAILED, _error(str(error)))
            return
        except RunStorageError as error:
            self._end(sweep_id, RunStatus.FAILED, _error(f"storing the sweep failed: {error}"))
            return
        self._finish(sweep_id, result)

    def _run_walkforward(
        self,
        sweep_id: str,
        request: SweepRequest,
        walk: WalkRequest,
        base: PreparedRun,
        stop: threading.Event,
        trials: TrialRunnerFactory,
        tests: FoldTestFactory,
    ) -> None:
        """Optimise on each fold's train window and test on its test window; the
        walk-forward's document (folds, efficiency, stitched out-of-sample metrics) is stored
        as the row's `statistics`. A restart reruns it: each fold's study resumes, so no
        trial is run twice."""
        from app.research.walkforward import run_walkforward
        from app.research.walkforward_outputs import summary_document

        spec, _ = build_walkforward(request, walk, base)
        result = run_walkforward(
            spec,
            base,
            service=self._service,
            storage_url=storage_url_of(self._engine),
            workers=self._trial_workers,
            names={"dataset": base.inputs.data.name},
            on_progress=lambda progress: self._on_fold_progress(sweep_id, progress),
            cancel=stop,
            study_prefix=study_name_of(sweep_id),
            trials=trials,
            tests=tests,
        )
        if result.cancelled and self._is_stopping:
            self._requeue(sweep_id)
            return
        document = summary_document(result, spec, base.market)
        document["stitched_equity"] = thinned_curve(result.account.time, result.account.equity)
        document = typing.cast(dict[str, Any], clean_json(document))
        done = sum(1 for fold in result.folds if fold.status == "tested")
        values: dict[str, Any] = {"statistics": document, "trials_done": done, "eta_s": None}
        if result.cancelled:
            self._end(sweep_id, RunStatus.CANCELLED, _error(CANCELLED_MESSAGE), values)
        else:
            self._end(sweep_id, RunStatus.DONE, None, values)

    def _on_fold_progress(self, sweep_id: str, progress: WalkForwardProgress) -> None:
        """Stream fold k of n and, while it optimises, its sweep's trial j of m."""
        sweep = progress.sweep
        message: Message = {
            "type": "progress",
            "status": RunStatus.RUNNING.value,
            "fold": progress.fold,
            "folds_total": progress.folds_total,
            "phase": progress.phase,
            "trials_done": sweep.trials_done if sweep is not None else None,
            "trials_total": sweep.trials_total if sweep is not None else None,
            "trials_per_s": sweep.trials_per_s if sweep is not None else 0.0,
            "eta_s": sweep.eta_s if sweep is not None else None,
            "best": trial_message(sweep.best) if sweep is not None and sweep.best else None,
        }
        try:
            with session_scope(self._engine) as session:
                crud.set_sweep_progress(
                    session,
                    sweep_id=sweep_id,
                    trials_done=progress.fold - 1,
                    trials_total=progress.folds_total,
                    trials_per_s=0.0,
                    eta_s=None,
                    best=None,
                )
        except Exception as error:
            raise RunStorageError("saving its progress", error) from error
        self._call_in_loop(self._hub.publish, sweep_id, message, [])

    def _on_progress(self, sweep_id: str, progress: SweepProgress) -> None:
        """Store the newly finished trials and the progress, then stream them."""
        best = [trial_message(progress.best)] if progress.best is not None else None
        try:
            with session_scope(self._engine) as session:
                rows = [trial_row(record) for record in progress.finished]
                crud.add_sweep_trials(session, sweep_id=sweep_id, trials=rows)
                crud.set_sweep_progress(
                    session,
                    sweep_id=sweep_id,
                    trials_done=progress.trials_done,
                    trials_total=progress.trials_total,
                    trials_per_s=round(progress.trials_per_s, 3),
                    eta_s=round(progress.eta_s, 1) if progress.eta_s is not None else None,
                    best=best,
                )
                sweep = crud.get_sweep(session, sweep_id=sweep_id)
                message = progress_message(sweep)
        except Exception as error:  # stops the sweep: its study keeps every told trial
            raise RunStorageError("saving its progress", error) from error
        trials = [trial_message(record) for record in progress.finished]
        self._call_in_loop(self._hub.publish, sweep_id, message, trials)

    def _finish(self, sweep_id: str, result: SweepResult) -> None:
        best = [trial_message(record) for record in result.best]
        values: dict[str, Any] = {"best": best or None, "trials_done": len(result.trials)}
        with session_scope(self._engine) as session:
            rows = [trial_row(record) for record in result.trials]
            crud.add_sweep_trials(session, sweep_id=sweep_id, trials=rows)
            crud.set_sweep_progress(
                session,
                sweep_id=sweep_id,
                trials_done=len(result.trials),
                trials_total=crud.get_sweep(session, sweep_id=sweep_id).trials_total,
                trials_per_s=0.0,
                eta_s=None,
                best=values["best"],
            )
        if result.cancelled and self._is_stopping:
            self._requeue(sweep_id)
            return
        values["statistics"] = sweep_statistics_of(result)
        if result.cancelled:
            self._end(sweep_id, RunStatus.CANCELLED, _error(CANCELLED_MESSAGE), values)
        else:
            self._end(sweep_id, RunStatus.DONE, None, values)

    def _requeue(self, sweep_id: str) -> None:
        """The server is stopping: the sweep waits, queued, for the next start to resume."""
        with session_scope(self._engine) as session:
            self._move(session, sweep_id, RunStatus.QUEUED, None)
        logger.info("sweep paused by the server stopping sweep_id=%s", sweep_id)

    def _end(
        self,
        sweep_id: str,
        status: RunStatus,
        error: dict[str, Any] | None,
        values: dict[str, Any] | None = None,
    ) -> None:
        try:
            with session_scope(self._engine) as session:
                moved = self._move(session, sweep_id, status, error, values)
            messages = self._closing_messages(sweep_id)
        except Exception:  # the database is unreachable: the next start's recovery resumes it
            logger.exception("cannot store the sweep's end sweep_id=%s", sweep_id)
            return
        if moved:
            logger.info("sweep %s sweep_id=%s", status.value, sweep_id)
        self._call_in_loop(self._hub.finish, sweep_id, messages)

    def _finish_stream(self, sweep_id: str) -> None:
        self._hub.finish(sweep_id, self._closing_messages(sweep_id))

    def _closing_messages(self, sweep_id: str) -> list[Message]:
        with session_scope(self._engine) as session:
            sweep = crud.get_sweep(session, sweep_id=sweep_id)
            return [progress_message(sweep), final_message(sweep)]

    def _move(
        self,
        session: Any,
        sweep_id: str,
        target: RunStatus,
        error: dict[str, Any] | None,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        now = utc_now()
        values: dict[str, Any] = dict(extra or {})
        if target is RunStatus.RUNNING:
            values["started_at"] = now
        elif target in SWEEP_TERMINAL:
            values["finished_at"] = now
        if error is not None:
            values["error"] = error
        return crud.set_sweep_status(
            session,
            sweep_id=sweep_id,
            expected=sweep_sources(target),
            status=target,
            values=values,
        )

    def _forget(self, sweep_id: str) -> None:
        with self._lock:
            self._jobs.pop(sweep_id, None)

    def _call_in_loop(self, function: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(function, *args)


def thinned_curve(times: Any, equity: Any, max_points: int = MAX_CURVE_POINTS) -> list[list[float]]:
    """A curve as [[time (epoch s), equity], ...], thinned evenly to `max_points` (the first
    and last bar kept), for the walk-forward page's stitched out-of-sample curve."""
    total = len(times)
    if total == 0:
        return []
    picks = np.unique(np.linspace(0, total - 1, min(total, max_points)).round().astype(int))
    return [[int(times[i]) // 1_000_000_000, float(equity[i])] for i in picks]


def sweep_statistics_of(result: SweepResult) -> dict[str, Any] | None:
    """DSR, PBO and their meaning for the best trial (app.research.overfitting), or None when
    the sweep has no feasible best; a figure that cannot be computed says why in `meaning`."""
    from app.research.overfitting import sweep_statistics

    if not result.best or result.best[0].number not in result.feasible_numbers:
        return None
    index = result.feasible_numbers.index(result.best[0].number)
    try:
        statistics = sweep_statistics(
            result.daily_returns, index, n_trials=max(len(result.trials), 1)
        )
    except ResearchInputError as error:
        return {"meaning": f"no overfitting statistics: {error.message}"}
    return typing.cast(dict[str, Any], clean_json(crud.json_safe(statistics)))


def _error(message: str) -> dict[str, Any]:
    return {"message": clean_text(message, 2_000)}
