"""Runs from queued to finished: the state machine, the worker-side job, restart recovery.

States change only through TRANSITIONS, each change an atomic conditional update, so a cancel
racing a finishing run leaves exactly one of the two outcomes. A run's results are written in
one transaction together with its `done` status: a crash leaves either everything or nothing.
A failure in any storage step ends the run failed with the reason (never left running), and
error text is cleaned (sandbox.text) on its way into the database.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import typing
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, Final

from sqlalchemy import Engine

from app.data.catalog import DatasetCatalog
from app.data.errors import DataError
from app.db import crud
from app.db.models import RunStatus, utc_now
from app.db.session import session_scope
from app.engine import EngineError
from app.jobs.errors import AttemptReplacedError, RunStorageError
from app.jobs.progress import Message, ProgressHub, stage_progress
from app.jobs.queue import WORKER_NICE, JobQueue, LocalProcessPool, RunJob
from app.jobs.run_progress import ProgressTracker
from app.runs import RunOutcome, RunService
from app.runs.checkpoints import has_checkpoint, remove_checkpoints
from app.runs.errors import CheckpointUnusable
from sandbox import (
    RunCancelled,
    SandboxError,
    StrategyFailed,
    StrategyRejected,
    WarmWorker,
    WorkerPool,
    start_worker,
)
from sandbox.text import clean_json, clean_text

logger = logging.getLogger(__name__)

TRANSITIONS: Final[dict[RunStatus, frozenset[RunStatus]]] = {
    RunStatus.QUEUED: frozenset({RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED}),
    # RUNNING -> QUEUED: a restart found it running with a checkpoint; it resumes from there.
    RunStatus.RUNNING: frozenset(
        {RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.QUEUED}
    ),
    RunStatus.DONE: frozenset(),
    RunStatus.FAILED: frozenset(),
    RunStatus.CANCELLED: frozenset(),
}
TERMINAL: Final = frozenset(status for status, after in TRANSITIONS.items() if not after)
INTERRUPTED_MESSAGE: Final = (
    "interrupted: the server stopped while this run was running; start it again to re-run it"
)
STORAGE_FAILED: Final = "storing the run failed: "


def sources_of(target: RunStatus) -> frozenset[RunStatus]:
    """The states a run may move to `target` from."""
    return frozenset(source for source, after in TRANSITIONS.items() if target in after)


def error_message(error: dict[str, Any], status: RunStatus) -> Message:
    """A failed or cancelled run's final websocket message."""
    return {
        "type": "error",
        "message": error.get("message", ""),
        "line": error.get("line"),
        "status": status.value,
    }


class JobRunner:
    """Owns the queue of runs and the pre-started sandbox workers; created and stopped by the
    app's lifespan."""

    def __init__(
        self,
        *,
        engine: Engine,
        catalog: DatasetCatalog,
        hub: ProgressHub,
        workers: int,
        service: RunService,
        queue_factory: Callable[..., JobQueue] = LocalProcessPool,
        pool_factory: Callable[..., WorkerPool] = WorkerPool,
    ) -> None:
        self._engine = engine
        self._catalog = catalog
        self._hub = hub
        self._workers = workers
        self._service = service
        self._queue = queue_factory(self._execute, workers=workers)
        self._pool_factory = pool_factory
        self._pool: WorkerPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._is_stopping = False

    # -- lifecycle (event loop) -------------------------------------------------------------

    def start(self) -> None:
        """Bind to the running loop, start the worker pool (one ready worker per run slot, at
        the runs' priority), then recover what the last process left behind."""
        self._loop = asyncio.get_running_loop()
        self._pool = self._pool_factory(self._workers, nice=WORKER_NICE)
        self.recover()

    def recover(self) -> tuple[list[str], list[str]]:
        """Queue runs left running again when they have a checkpoint to resume from (their
        run folder's, app.runs.checkpoints), mark the others failed (interrupted), and queue
        the waiting ones again, oldest first."""
        with session_scope(self._engine) as session:
            running = crud.list_runs(session, statuses=(RunStatus.RUNNING,), limit=1_000_000)
            resumable = [run.id for run in running if self._has_checkpoint(run.id)]
            interrupted = [run.id for run in running if run.id not in resumable]
            for run_id in resumable:
                crud.set_run_status(
                    session,
                    run_id=run_id,
                    expected=(RunStatus.RUNNING,),
                    status=RunStatus.QUEUED,
                    values={},
                )
            for run_id in interrupted:
                crud.set_run_status(
                    session,
                    run_id=run_id,
                    expected=(RunStatus.RUNNING,),
                    status=RunStatus.FAILED,
                    values={
                        "error": {
                            "message": INTERRUPTED_MESSAGE,
                            "line": None,
                            "kind": "interrupted",
                        },
                        "finished_at": utc_now(),
                    },
                )
            waiting = crud.list_runs(session, statuses=(RunStatus.QUEUED,), limit=1_000_000)
            requeued = [run.id for run in sorted(waiting, key=lambda run: run.created_at)]
        for run_id in interrupted:
            logger.warning("run interrupted by a restart run_id=%s", run_id)
        for run_id in resumable:
            logger.warning(
                "run interrupted by a restart resumes from its checkpoint run_id=%s", run_id
            )
        for run_id in requeued:
            self.submit(run_id)
        return interrupted, requeued

    def _has_checkpoint(self, run_id: str) -> bool:
        runs_dir = self._service.runs_dir
        return runs_dir is not None and has_checkpoint(runs_dir / run_id)

    def _drop_checkpoints(self, run_id: str) -> None:
        """Remove a run's checkpoints once it has ended without finishing (nothing resumes
        a failed or cancelled run; a done one removed its own)."""
        runs_dir = self._service.runs_dir
        if runs_dir is not None:
            remove_checkpoints(runs_dir / run_id)

    def shutdown(self) -> None:
        """Stop every run; running ones end failed (interrupted) so they can be re-run."""
        self._is_stopping = True
        self._queue.shutdown()
        if self._pool is not None:
            self._pool.close()

    # -- requests (event loop) --------------------------------------------------------------

    def submit(self, run_id: str) -> None:
        """Queue a stored, queued run."""
        self._hub.open(run_id)
        self._queue.submit(RunJob(run_id))

    async def cancel(self, run_id: str, *, wait_s: float = 5.0) -> RunStatus:
        """Cancel a queued or running run; returns its status afterwards."""
        with session_scope(self._engine) as session:
            status = crud.get_run(session, run_id=run_id).status
            if status is RunStatus.QUEUED:
                self._move(session, run_id, RunStatus.CANCELLED, _cancelled_error())
        if status in TERMINAL:
            return status
        self._queue.cancel(run_id)
        if status is RunStatus.QUEUED:
            self._hub.finish(run_id, [error_message(_cancelled_error(), RunStatus.CANCELLED)])
        await self._hub.wait_finished(run_id, wait_s)
        with session_scope(self._engine) as session:
            status = crud.get_run(session, run_id=run_id).status
            # Still running after `wait_s`: its job is slow to notice (a worker still starting
            # on a busy machine) or gone (it ended without a terminal state). Either way the
            # cancel ends the run now; the job, told to stop, can no longer store anything.
            is_running = status is RunStatus.RUNNING
            if is_running and self._move(session, run_id, RunStatus.CANCELLED, _cancelled_error()):
                status = RunStatus.CANCELLED
            return status

    # -- the job (a pool thread) ------------------------------------------------------------

    def _execute(self, job: RunJob, stop: threading.Event) -> None:
        """Run one job to a terminal state: whatever raises on the way (a storage step
        included), the run ends failed with the reason and is never left running. Each start
        is a new attempt (app.db.crud.start_run); only the run's current attempt may end it."""
        run_id = job.run_id
        try:
            with session_scope(self._engine) as session:
                attempt = crud.start_run(session, run_id=run_id, values={"started_at": utc_now()})
        except Exception as error:
            logger.exception("starting the run failed run_id=%s", run_id)
            self._fail_after_storage_error(run_id, error, None)
            return
        if attempt is None:
            return  # not queued any more (cancelled, or another worker took it)
        with self._attempt_scope(run_id, attempt, stop):
            try:
                self._run_attempt(run_id, attempt, stop)
            except Exception as error:
                logger.exception("storing the run's outcome failed run_id=%s", run_id)
                self._fail_after_storage_error(run_id, error, attempt)

    def _attempt_scope(
        self, run_id: str, attempt: int, stop: threading.Event
    ) -> AbstractContextManager[object]:
        """Held while attempt `attempt` runs, until its terminal state is stored (a cluster
        worker holds the run's lease here: app.jobs.redis_job)."""
        del run_id, attempt, stop
        return nullcontext()

    def _run_attempt(self, run_id: str, attempt: int, stop: threading.Event) -> None:
        with session_scope(self._engine) as session:
            run = crud.get_run(session, run_id=run_id)
            code, dataset, config_data = run.code, run.dataset_version or run.dataset, run.config
        logger.info("run started run_id=%s attempt=%d dataset=%s", run_id, attempt, dataset)
        try:
            outcome = self._backtest(
                run_id=run_id,
                code=code,
                dataset=dataset,
                config_data=config_data,
                stop=stop,
                attempt=attempt,
            )
        except AttemptReplacedError as replaced:
            self._log_replaced(run_id, attempt, replaced.current)
        except RunCancelled:
            self._finish_cancelled(run_id, attempt)
        except StrategyFailed as error:
            self._finish_failed(run_id, _failure(error, line=error.line), attempt)
        except StrategyRejected as error:
            first = error.diagnostics[0] if error.diagnostics else None
            line = first.line if first else None
            self._finish_failed(run_id, _failure(error, line=line), attempt)
        except (SandboxError, EngineError, DataError, CheckpointUnusable) as error:
            self._finish_failed(run_id, _failure(error, line=None), attempt)
        except (OSError, RunStorageError) as error:  # the run's folder, its progress row
            failure = _failure(error, line=None, prefix=STORAGE_FAILED)
            self._finish_failed(run_id, failure, attempt)
        except Exception as error:
            logger.exception("run crashed run_id=%s", run_id)
            failure = _failure(error, line=None, prefix="internal error: ")
            self._finish_failed(run_id, failure, attempt)
        else:
            self._finish_done(run_id, outcome, attempt)

    def _is_replaced(self, run_id: str, attempt: int | None) -> bool:
        """True (and logged) when `attempt` no longer owns the run (crud.is_attempt_replaced)."""
        if attempt is None:
            return False
        with session_scope(self._engine) as session:
            if not crud.is_attempt_replaced(session, run_id=run_id, attempt=attempt):
                return False
            current = crud.run_attempt(session, run_id=run_id)
        self._log_replaced(run_id, attempt, current)
        return True

    def _log_replaced(self, run_id: str, attempt: int, current: int | None) -> None:
        logger.warning(
            "stale attempt dropped: the run was queued again after this worker's lease "
            "lapsed, attempt %s owns it run_id=%s attempt=%d",
            current,
            run_id,
            attempt,
        )

    def _backtest(
        self,
        *,
        run_id: str,
        code: str,
        dataset: str,
        config_data: dict[str, Any],
        stop: threading.Event,
        attempt: int | None = None,
    ) -> RunOutcome:
        self._publish_progress(run_id, stage_progress("starting"))
        with self._take_worker() as worker:  # killed on every path, the run's own end included
            self._publish_progress(run_id, stage_progress("loading"))
            tracker = ProgressTracker(
                run_id, self._engine, self._publish_progress, self._publish_logs, attempt
            )
            return self._service.run_stored(
                run_id=run_id,
                code=code,
                dataset=dataset,
                config_data=config_data,
                catalog=self._catalog,
                on_progress=tracker.update,
                cancel=stop,
                worker=worker,
            )

    def _take_worker(self) -> WarmWorker:
        """A pre-started worker from the pool; one started now before start() or after
        shutdown(). Taken before the data loads, so a worker started now overlaps it."""
        return self._pool.take() if self._pool is not None else start_worker()

    def _finish_done(self, run_id: str, outcome: RunOutcome, attempt: int | None = None) -> None:
        result = outcome.result
        with session_scope(self._engine) as session:
            stored = crud.store_result(session, run_id=run_id, result=result, attempt=attempt)
            run = crud.get_run(session, run_id=run_id)
            metrics, status, error = run.metrics, run.status, run.error
            if stored:
                run.provenance = outcome.provenance
        if not stored and self._is_replaced(run_id, attempt):
            return  # the newer attempt stores the run and tells the viewers
        if not stored:  # it ended otherwise first (a cancel): the viewers learn how
            self._call_in_loop(self._hub.finish, run_id, [error_message(error or {}, status)])
            return
        logger.info("run done run_id=%s trades=%d", run_id, len(result.trades))
        # The log lines were streamed with the progress reports; all of them are at /logs.
        done = {"type": "done", "metrics": metrics, "status": RunStatus.DONE.value}
        self._call_in_loop(self._hub.finish, run_id, [done])

    def _finish_failed(
        self, run_id: str, error: dict[str, Any], attempt: int | None = None
    ) -> None:
        with session_scope(self._engine) as session:
            moved = self._move(session, run_id, RunStatus.FAILED, error, attempt)
        if not moved and self._is_replaced(run_id, attempt):
            return  # the newer attempt owns the run, its checkpoints and its viewers
        self._drop_checkpoints(run_id)  # a failed run is never resumed
        if moved:
            logger.info("run failed run_id=%s reason=%s", run_id, error["message"])
            self._call_in_loop(self._hub.finish, run_id, [error_message(error, RunStatus.FAILED)])

    def _fail_after_storage_error(
        self, run_id: str, error: Exception, attempt: int | None = None
    ) -> None:
        """Mark the run failed after a storage step raised, with a plain error of clean text
        (the first attempt may have failed on its error's own content). When even that cannot
        be written the database is unreachable, and restart recovery marks the run."""
        failure = _failure(error, line=None, prefix=STORAGE_FAILED)
        failure = {**failure, "kind": "storage", "message": clean_text(failure["message"], 2_000)}
        try:
            self._finish_failed(run_id, failure, attempt)
        except Exception:
            logger.exception("cannot mark the run failed run_id=%s", run_id)

    def _finish_cancelled(self, run_id: str, attempt: int | None = None) -> None:
        if self._is_replaced(run_id, attempt):
            return  # stopped because a newer attempt took the run over: it tells the viewers
        if self._is_stopping and self._has_checkpoint(run_id):
            logger.info("run stopped by the shutdown, left to resume run_id=%s", run_id)
            return  # still running: the next start's recover() queues it from its checkpoint
        if self._is_stopping:
            error = {"message": INTERRUPTED_MESSAGE, "line": None, "kind": "interrupted"}
            self._finish_failed(run_id, error, attempt)
            return
        with session_scope(self._engine) as session:
            moved = self._move(session, run_id, RunStatus.CANCELLED, _cancelled_error(), attempt)
        self._drop_checkpoints(run_id)
        if moved:
            logger.info("run cancelled run_id=%s", run_id)
        message = error_message(_cancelled_error(), RunStatus.CANCELLED)
        self._call_in_loop(self._hub.finish, run_id, [message])

    def _move(
        self,
        session: Any,
        run_id: str,
        target: RunStatus,
        error: dict[str, Any] | None,
        attempt: int | None = None,
    ) -> bool:
        now = utc_now()
        values: dict[str, Any] = (
            {"started_at": now} if target is RunStatus.RUNNING else {"finished_at": now}
        )
        if error is not None:
            values["error"] = error
        return crud.set_run_status(
            session,
            run_id=run_id,
            expected=sources_of(target),
            status=target,
            values=values,
            attempt=attempt,
        )

    def _publish_progress(self, run_id: str, message: Message) -> None:
        self._call_in_loop(self._hub.publish_progress, run_id, message)

    def _publish_logs(self, run_id: str, messages: list[Message]) -> None:
        self._call_in_loop(self._hub.publish_logs, run_id, messages)

    def _call_in_loop(self, function: Callable[..., None], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(function, *args)


def _cancelled_error() -> dict[str, Any]:
    return {"message": "the run was cancelled", "line": None, "kind": "cancelled"}


def _failure(error: Exception, *, line: int | None, prefix: str = "") -> dict[str, Any]:
    failure: dict[str, Any] = {
        "message": f"{prefix}{error}",
        "line": line,
        "kind": type(error).__name__,
    }
    if isinstance(error, StrategyFailed):
        failure.update(
            exc_type=error.exc_type,
            bar_index=error.bar_index,
            bar_time=error.bar_time,
            phase=error.phase,
        )
    if isinstance(error, StrategyRejected):
        failure["diagnostics"] = [d.to_dict() for d in error.diagnostics]
    return typing.cast(dict[str, Any], clean_json(failure))  # clean text into the database
