"""No run is ever left running: a failure at any storage step, or any worker output at all,
ends the run failed with its reason; cancel still answers; the stored text is clean.

Faults are injected at the database itself (a listener fails the first statement of one
step, as a full disk or a dropped connection would) and at the run folder (a file where the
folder should be). Workers are stand-ins from tests/hostile_worker.py: one replays a genuine
result computed here (so a run takes a second, not a sandbox start), the others are hostile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from app.data.catalog import DatasetCatalog
from app.db import RunStatus, crud, make_engine, migrate, session_scope
from app.engine import LogLevel, LogLine, RunConfig, RunRecord, simulate
from app.jobs import JobRunner, ProgressHub
from app.runs import RunService
from sandbox import RunLimits, WarmWorker, WorkerPool, compile_strategy
from sandbox.codec import record_body
from sandbox.protocol import encode
from tests.hostile_worker import (
    BEHAVIOURS,
    NASTY_TEXTS,
    HostileScript,
    hostile_worker,
    nasty_progress,
    ready,
    script,
)
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, queued_run, write_sample

LIMITS = RunLimits(wall_seconds=3.0, cpu_seconds=3.0, memory_mb=512)


class InjectedFault(Exception):  # noqa: N818  (what happened)
    """The failure a storage step meets."""


@dataclasses.dataclass(slots=True)
class FaultInjector:
    """Fails the first database statement `matches` accepts; every other one runs."""

    step: str
    matches: Callable[[str, str], bool]
    has_fired: bool = False

    def __call__(self, *args: Any) -> None:
        statement, parameters = args[2], str(args[3])
        if not self.has_fired and self.matches(statement, parameters):
            self.has_fired = True
            raise InjectedFault(f"injected fault at the {self.step} step")


STORAGE_STEPS: dict[str, Callable[[str, str], bool]] = {
    "start": lambda sql, params: sql.startswith("UPDATE runs SET status") and "'running'" in params,
    "progress": lambda sql, _: sql.startswith("UPDATE runs SET pct=?, bars_done"),
    "done": lambda sql, params: sql.startswith("UPDATE runs SET status") and "'done'" in params,
    "equity": lambda sql, _: sql.startswith("INSERT INTO run_equity"),
    "trades": lambda sql, _: sql.startswith("INSERT INTO trades"),
    "orders": lambda sql, _: sql.startswith("INSERT INTO orders"),
    "logs": lambda sql, _: sql.startswith("INSERT INTO run_logs"),
    "provenance": lambda sql, _: sql.startswith("UPDATE runs SET provenance"),
}


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    write_sample(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def genuine_record(tmp_path_factory: pytest.TempPathFactory) -> RunRecord:
    """What the real worker sends for the SMA example on the sample, plus hostile log lines."""
    folder = tmp_path_factory.mktemp("data")
    write_sample(folder)
    catalog = DatasetCatalog(folder)
    market = catalog.load_market(catalog.resolve(SAMPLE_NAME))
    config = RunConfig.from_dict(RunConfig(symbol="TESTUSDT").to_dict())
    strategy = compile_strategy(SMA_CODE).strategy_class
    record = simulate(strategy, market, config)
    assert record.trades and record.orders
    hostile = tuple(
        LogLine(record.logs[0].time if record.logs else int(market.time[0]), 0, LogLevel.INFO, text)
        for text in NASTY_TEXTS
    )
    return dataclasses.replace(record, logs=(*hostile, *record.logs))


def replay(record: RunRecord) -> HostileScript:
    """A worker that answers with `record`, after a progress report (which gets saved)."""
    return HostileScript(ready() + nasty_progress() + encode(*record_body(record)))


def run_one(
    engine: Engine,
    tmp_path: Path,
    worker_script: HostileScript,
    *,
    runs_dir: Path | None = None,
) -> tuple[str, RunStatus, RunStatus]:
    """Store a run, let a runner with `worker_script` workers take it; its end status and the
    status a cancel answers afterwards."""

    def pool(size: int, **options: Any) -> WorkerPool:
        return WorkerPool(size, start=lambda: hostile_worker(worker_script, tmp_path), **options)

    runner = JobRunner(
        engine=engine,
        catalog=DatasetCatalog(tmp_path),
        hub=ProgressHub(),
        workers=1,
        service=RunService(limits=LIMITS, runs_dir=runs_dir or tmp_path / "runs"),
        pool_factory=pool,
    )
    run = queued_run(SMA_CODE)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)

    async def scenario() -> tuple[RunStatus, RunStatus]:
        runner.start()  # picks the queued run up
        try:
            status = await wait_for_end(engine, run.id)
            return status, await runner.cancel(run.id, wait_s=1.0)
        finally:
            runner.shutdown()

    status, after_cancel = asyncio.run(scenario())
    return run.id, status, after_cancel


async def wait_for_end(engine: Engine, run_id: str, timeout_s: float = 60) -> RunStatus:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        with session_scope(engine) as session:
            status = crud.get_run(session, run_id=run_id).status
        if status in (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED):
            return status
        await asyncio.sleep(0.05)
    raise TimeoutError(f"run {run_id} was left {status}")


def error_of(engine: Engine, run_id: str) -> dict[str, Any]:
    with session_scope(engine) as session:
        error = crud.get_run(session, run_id=run_id).error
    assert error is not None
    return error


@pytest.mark.parametrize("step", list(STORAGE_STEPS))
def test_cant_leave_a_run_running_when_a_storage_step_fails(
    step: str, engine: Engine, tmp_path: Path, genuine_record: RunRecord
) -> None:
    injector = FaultInjector(step, STORAGE_STEPS[step])
    event.listen(engine, "before_cursor_execute", injector)
    run_id, status, after_cancel = run_one(engine, tmp_path, replay(genuine_record))
    event.remove(engine, "before_cursor_execute", injector)
    assert injector.has_fired
    assert (status, after_cancel) == (RunStatus.FAILED, RunStatus.FAILED)
    error = error_of(engine, run_id)
    assert error["message"].startswith("storing the run failed: ")
    assert f"injected fault at the {step} step" in error["message"]
    assert error["message"].isprintable()
    with session_scope(engine) as session:  # nothing half-stored next to the failed status
        assert crud.get_equity(session, run_id=run_id) is None
        assert not crud.list_trades(session, run_id=run_id, limit=10)


def test_cant_leave_a_run_running_when_its_folder_cannot_be_written(
    engine: Engine, tmp_path: Path, genuine_record: RunRecord
) -> None:
    not_a_folder = tmp_path / "runs-file"
    not_a_folder.write_text("a file where the runs folder should be")
    run_id, status, after_cancel = run_one(
        engine, tmp_path, replay(genuine_record), runs_dir=not_a_folder
    )
    assert (status, after_cancel) == (RunStatus.FAILED, RunStatus.FAILED)
    assert error_of(engine, run_id)["message"].startswith("storing the run failed: ")


def test_a_replayed_run_stores_its_hostile_log_lines_clean(
    engine: Engine, tmp_path: Path, genuine_record: RunRecord
) -> None:
    run_id, status, after_cancel = run_one(engine, tmp_path, replay(genuine_record))
    assert (status, after_cancel) == (RunStatus.DONE, RunStatus.DONE)
    with session_scope(engine) as session:
        logs = crud.list_logs(session, run_id=run_id, limit=10_000)
        trades = crud.list_trades(session, run_id=run_id, limit=10_000)
    assert len(logs) == len(genuine_record.logs) and len(trades) == len(genuine_record.trades)
    assert all(log.message.isprintable() for log in logs)


@pytest.mark.parametrize("behaviour", [b for b in BEHAVIOURS if b != "nasty_result"])
def test_cant_leave_a_run_running_whatever_the_worker_sends(
    behaviour: str, engine: Engine, tmp_path: Path
) -> None:
    run_id, status, after_cancel = run_one(engine, tmp_path, script(behaviour))
    assert (status, after_cancel) == (RunStatus.FAILED, RunStatus.FAILED)
    error = error_of(engine, run_id)
    assert error["message"] and error["message"].isprintable()


def test_a_cancel_ends_a_run_no_job_holds(engine: Engine, tmp_path: Path) -> None:
    runner = JobRunner(
        engine=engine,
        catalog=DatasetCatalog(tmp_path),
        hub=ProgressHub(),
        workers=1,
        service=RunService(limits=LIMITS),
        pool_factory=lambda size, **options: WorkerPool(
            size, start=lambda: hostile_worker(script("silent"), tmp_path), **options
        ),
    )

    async def scenario() -> RunStatus:
        runner.start()
        try:
            run = queued_run(SMA_CODE)  # stored running, as a run whose job died used to be
            run.status = RunStatus.RUNNING
            with session_scope(engine) as session:
                crud.create_run(session, run=run)
            return await runner.cancel(run.id, wait_s=0.5)
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) is RunStatus.CANCELLED


def test_stored_rows_with_unstorable_text_read_back_clean(engine: Engine) -> None:
    run = queued_run(SMA_CODE)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with engine.begin() as connection:  # a row written before text was cleaned, bypassing it
        connection.execute(
            text("UPDATE runs SET status = 'failed', error = :error WHERE id = :id"),
            {"error": '{"message": "bad \\ud800 row \\u0000", "line": null}', "id": run.id},
        )
    with session_scope(engine) as session:
        [stored] = crud.list_runs(session)
        assert stored.error == {"message": "bad \ufffd row \ufffd", "line": None}
        stored.error["message"].encode("utf-8")


def test_a_cancel_ends_a_run_whose_worker_is_slow_to_start_and_nothing_is_stored_after(
    engine: Engine, tmp_path: Path, genuine_record: RunRecord
) -> None:
    def slow_start() -> WarmWorker:  # a worker starting on a busy machine, then answering
        time.sleep(2.0)
        return hostile_worker(replay(genuine_record), tmp_path)

    hub = ProgressHub()
    runner = JobRunner(
        engine=engine,
        catalog=DatasetCatalog(tmp_path),
        hub=hub,
        workers=1,
        service=RunService(limits=LIMITS),
        pool_factory=lambda size, **options: WorkerPool(size, start=slow_start, **options),
    )
    run = queued_run(SMA_CODE)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)

    async def scenario() -> tuple[RunStatus, RunStatus]:
        runner.start()
        try:
            with session_scope(engine) as session:
                while crud.get_run(session, run_id=run.id).status is not RunStatus.RUNNING:
                    await asyncio.sleep(0.02)
                    session.expire_all()
            cancelled = await runner.cancel(run.id, wait_s=0.2)
            assert await hub.wait_finished(run.id, 30)  # the job ended and told its viewers
            with session_scope(engine) as session:
                return cancelled, crud.get_run(session, run_id=run.id).status
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) == (RunStatus.CANCELLED, RunStatus.CANCELLED)
    with session_scope(engine) as session:
        assert crud.get_equity(session, run_id=run.id) is None
        assert not crud.list_trades(session, run_id=run.id, limit=10)
