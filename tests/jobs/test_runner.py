"""The runner end to end: real sandbox workers, a real database, restart recovery."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from app.db import RunStatus, crud, make_engine, migrate, session_scope
from app.engine import RunConfig, run_backtest
from app.jobs import DatasetCatalog, JobRunner, ProgressHub
from app.jobs.queue import WORKER_NICE
from app.jobs.runner import INTERRUPTED_MESSAGE
from app.runs import RunService
from sandbox import WarmWorker, WorkerPool, compile_strategy
from sandbox.codec import config_from_dict
from tests.jobs.fixtures import (
    FAILING_CODE,
    SAMPLE_NAME,
    SLOW_CODE,
    SMA_CODE,
    queued_run,
    write_sample,
)

LINUX = sys.platform.startswith("linux")
IDLE_COMMAND = [sys.executable, "-c", "import sys; sys.stdin.buffer.read()"]
"""A stand-in worker for runs that never reach one: starts at once, exits when stdin closes."""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    write_sample(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def store(engine: Engine, code: str, status: RunStatus = RunStatus.QUEUED) -> str:
    run = queued_run(code)
    run.status = status
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    return run.id


def status_of(engine: Engine, run_id: str) -> RunStatus:
    with session_scope(engine) as session:
        return crud.get_run(session, run_id=run_id).status


async def wait_for(engine: Engine, run_id: str, timeout_s: float = 60) -> RunStatus:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        status = status_of(engine, run_id)
        if status in (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED):
            return status
        await asyncio.sleep(0.05)
    raise TimeoutError(run_id)


def make_runner(engine: Engine, tmp_path: Path, workers: int = 2, **options: Any) -> JobRunner:
    return JobRunner(
        engine=engine,
        catalog=DatasetCatalog(tmp_path),
        hub=ProgressHub(),
        workers=workers,
        service=RunService(runs_dir=tmp_path / "runs"),
        **options,
    )


def test_runs_finish_with_results_or_a_located_error(engine: Engine, tmp_path: Path) -> None:
    good, bad = store(engine, SMA_CODE), store(engine, FAILING_CODE)

    async def scenario() -> tuple[RunStatus, RunStatus]:
        runner = make_runner(engine, tmp_path)
        runner.start()  # picks the queued runs up, as after a restart
        try:
            return await wait_for(engine, good), await wait_for(engine, bad)
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) == (RunStatus.DONE, RunStatus.FAILED)
    with session_scope(engine) as session:
        done = crud.get_run(session, run_id=good)
        assert done.metrics and done.metrics["trades"] > 0
        assert len(crud.list_trades(session, run_id=good, limit=10_000)) == done.metrics["trades"]
        failed = crud.get_run(session, run_id=bad)
        assert failed.error is not None
        assert failed.error["line"] == 5 and "boom at bar 51" in failed.error["message"]


def test_cancel_stops_a_running_run(engine: Engine, tmp_path: Path) -> None:
    run_id = store(engine, SLOW_CODE)

    async def scenario() -> RunStatus:
        runner = make_runner(engine, tmp_path)
        runner.start()
        try:
            while status_of(engine, run_id) is not RunStatus.RUNNING:
                await asyncio.sleep(0.05)
            return await runner.cancel(run_id)
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) is RunStatus.CANCELLED
    with session_scope(engine) as session:
        assert crud.get_equity(session, run_id=run_id) is None


def test_a_restart_marks_interrupted_runs_and_requeues_waiting_ones(
    engine: Engine, tmp_path: Path
) -> None:
    interrupted = store(engine, SMA_CODE, RunStatus.RUNNING)
    waiting = store(engine, SMA_CODE)

    async def scenario() -> RunStatus:
        runner = make_runner(engine, tmp_path)
        runner.start()
        try:
            assert status_of(engine, interrupted) is RunStatus.FAILED
            return await wait_for(engine, waiting)
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) is RunStatus.DONE
    with session_scope(engine) as session:
        error = crud.get_run(session, run_id=interrupted).error
    assert error is not None and error["message"] == INTERRUPTED_MESSAGE


def test_shutdown_leaves_no_run_running(engine: Engine, tmp_path: Path) -> None:
    run_id = store(engine, SLOW_CODE)

    async def scenario() -> None:
        runner = make_runner(engine, tmp_path)
        runner.start()
        while status_of(engine, run_id) is not RunStatus.RUNNING:
            await asyncio.sleep(0.05)
        runner.shutdown()

    asyncio.run(scenario())
    assert status_of(engine, run_id) is RunStatus.FAILED


class RecordingPool(WorkerPool):
    """A real WorkerPool that remembers what it started and hands out, and at what priority."""

    def __init__(self, size: int, *, command: list[str] | None = None, **kwargs: Any) -> None:
        self.command = command
        self.started: list[WarmWorker] = []
        self.taken: list[tuple[WarmWorker, int]] = []
        super().__init__(size, start=self._start_recorded, **kwargs)

    def _start_recorded(self) -> WarmWorker:
        worker = WarmWorker(self.command) if self.command else WarmWorker()
        self.started.append(worker)
        return worker

    def take(self) -> WarmWorker:
        worker = super().take()
        nice = os.getpriority(os.PRIO_PROCESS, worker.process.pid) if LINUX else 0
        self.taken.append((worker, nice))
        return worker


async def wait_until_idle(pool: WorkerPool, count: int, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while pool.idle_count() < count:
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the pool did not fill")
        await asyncio.sleep(0.05)


def test_a_run_takes_a_pre_started_worker_at_the_runs_priority(
    engine: Engine, tmp_path: Path
) -> None:
    pools: list[RecordingPool] = []

    def pool_factory(size: int, **kwargs: Any) -> RecordingPool:
        pools.append(RecordingPool(size, **kwargs))
        return pools[-1]

    async def scenario() -> tuple[str, RunStatus, list[WarmWorker]]:
        runner = make_runner(engine, tmp_path, pool_factory=pool_factory)
        runner.start()
        try:
            await wait_until_idle(pools[0], 2)
            ready = list(pools[0].started)
            run_id = store(engine, SMA_CODE)
            runner.submit(run_id)
            return run_id, await wait_for(engine, run_id), ready
        finally:
            runner.shutdown()

    run_id, status, ready = asyncio.run(scenario())
    assert status is RunStatus.DONE
    pool = pools[0]
    [(worker, nice)] = pool.taken
    assert worker in ready and worker.process.poll() is not None
    if LINUX:
        assert nice == WORKER_NICE
    assert all(started.process.poll() is not None for started in pool.started)  # none left
    catalog = DatasetCatalog(tmp_path)
    market = catalog.load_market(catalog.resolve(SAMPLE_NAME))
    direct = run_backtest(
        compile_strategy(SMA_CODE).strategy_class,
        market,
        config_from_dict(RunConfig(symbol="TESTUSDT").to_dict()),
    )
    with session_scope(engine) as session:
        done = crud.get_run(session, run_id=run_id)
        assert done.metrics is not None
        assert done.metrics["trades"] == len(direct.trades) > 0
        assert done.metrics["final_equity"] == direct.metrics["final_equity"]


def test_a_run_whose_data_is_missing_kills_its_worker(engine: Engine, tmp_path: Path) -> None:
    pools: list[RecordingPool] = []

    def pool_factory(size: int, **kwargs: Any) -> RecordingPool:
        pools.append(RecordingPool(size, command=IDLE_COMMAND, **kwargs))
        return pools[-1]

    async def scenario() -> RunStatus:
        runner = make_runner(engine, tmp_path, workers=1, pool_factory=pool_factory)
        runner.start()
        try:
            run = queued_run(SMA_CODE, dataset="NOSUCHUSDT-1h")
            with session_scope(engine) as session:
                crud.create_run(session, run=run)
            runner.submit(run.id)
            return await wait_for(engine, run.id)
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) is RunStatus.FAILED
    [(worker, _)] = pools[0].taken
    assert worker.process.poll() is not None
    assert not Path(worker.workdir).exists()
