"""The runner end to end: real sandbox workers, a real database, restart recovery."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import RunStatus, crud, make_engine, migrate, session_scope
from app.jobs import DatasetCatalog, JobRunner, ProgressHub
from app.jobs.runner import INTERRUPTED_MESSAGE
from tests.jobs.fixtures import FAILING_CODE, SLOW_CODE, SMA_CODE, queued_run, write_sample


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


def make_runner(engine: Engine, tmp_path: Path) -> JobRunner:
    return JobRunner(engine=engine, catalog=DatasetCatalog(tmp_path), hub=ProgressHub(), workers=2)


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
