"""A server restart resumes a run from its checkpoint: the run a crash left `running` with a
checkpoint in its folder is queued again, continues from there, and ends with the folder and
the results an uninterrupted run of the same request has."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.db import RunStatus, crud, make_engine, migrate, session_scope
from app.engine import Progress, RunConfig
from app.jobs import DatasetCatalog, JobRunner, ProgressHub
from app.runs import RunService
from app.runs.checkpoints import CHECKPOINT_DIR, has_checkpoint
from sandbox import start_worker
from tests.jobs.fixtures import SAMPLE_NAME, queued_run, write_sample
from tests.killed_runs import until_killed

CHECKPOINTED = RunConfig(symbol="TESTUSDT", checkpoint_every=300, keep_checkpoints=1)
STATEFUL_CODE = """
class CountingCross(Strategy):
    params = {"fast": 10, "slow": 30}
    state = ("crossings", "spin")

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.crossings = 0
        self.spin = 1

    def on_data(self, bar):
        for step in range(30):  # slow enough for the kill to land mid-run
            self.spin = (self.spin * 31 + step) % 1000003
        if crossover(self.fast, self.slow):
            self.crossings += 1
            self.close_position()
            self.buy(0.1)
            self.log("crossing", self.crossings, self.spin)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(0.1, leverage=3)
"""


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    write_sample(tmp_path, bars=3_000)
    engine = make_engine(f"sqlite:///{tmp_path / 'jobs.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def stored(engine: Engine, status: RunStatus = RunStatus.QUEUED, code: str = STATEFUL_CODE) -> str:
    run = queued_run(code)
    run.id = uuid.uuid4().hex
    run.config = CHECKPOINTED.to_dict()
    run.config_hash = CHECKPOINTED.fingerprint()
    run.status = status
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    return run.id


def crash_half_way(engine: Engine, tmp_path: Path, run_id: str) -> None:
    """What a server killed mid-run leaves: the run `running` in the database and its
    checkpoints in its folder (its worker killed with SIGKILL at bar 1,500; tests/killed_runs)."""
    service = RunService(runs_dir=tmp_path / "runs")
    with session_scope(engine) as session:
        run = crud.get_run(session, run_id=run_id)
        code, config = run.code, run.config
        run.status = RunStatus.RUNNING
    folder = tmp_path / "runs" / run_id

    def attempt() -> None:
        worker = start_worker()

        def kill(progress: Progress) -> None:
            if progress.bars_done >= 1_500 and worker.process.poll() is None:
                os.killpg(worker.process.pid, signal.SIGKILL)

        service.run_stored(
            run_id=run_id,
            code=code,
            dataset=SAMPLE_NAME,
            config_data=config,
            catalog=DatasetCatalog(tmp_path),
            on_progress=kill,
            worker=worker,
        )

    until_killed(attempt, folder)
    assert has_checkpoint(folder)


def folder(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}


async def wait_done(engine: Engine, run_id: str, timeout_s: float = 180) -> RunStatus:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        with session_scope(engine) as session:
            status = crud.get_run(session, run_id=run_id).status
        if status in (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED):
            return status
        await asyncio.sleep(0.1)
    raise TimeoutError(run_id)


def test_a_restart_resumes_a_checkpointed_run_to_the_uninterrupted_results(
    engine: Engine, tmp_path: Path
) -> None:
    crashed = stored(engine)
    crash_half_way(engine, tmp_path, crashed)
    whole = stored(engine)  # the same request, never interrupted

    async def scenario() -> tuple[RunStatus, RunStatus]:
        runner = JobRunner(
            engine=engine,
            catalog=DatasetCatalog(tmp_path),
            hub=ProgressHub(),
            workers=1,
            service=RunService(runs_dir=tmp_path / "runs"),
        )
        runner.start()  # the restart: recover() finds `crashed` running, with a checkpoint
        try:
            with session_scope(engine) as session:
                assert crud.get_run(session, run_id=crashed).status is not RunStatus.FAILED
            return await wait_done(engine, crashed), await wait_done(engine, whole)
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) == (RunStatus.DONE, RunStatus.DONE)
    runs = tmp_path / "runs"
    assert not (runs / crashed / CHECKPOINT_DIR).exists()  # a finished run keeps none
    assert folder(runs / crashed) == folder(runs / whole)
    with session_scope(engine) as session:
        resumed, uninterrupted = (crud.get_run(session, run_id=i) for i in (crashed, whole))
        assert resumed.metrics == uninterrupted.metrics and resumed.metrics
        assert resumed.provenance == uninterrupted.provenance
        trades = [
            [
                (t.entry_time, t.exit_time, t.size, t.pnl)
                for t in crud.list_trades(session, run_id=run_id, limit=10**6)
            ]
            for run_id in (crashed, whole)
        ]
        assert trades[0] == trades[1] and trades[0]


def test_a_restart_with_a_damaged_checkpoint_fails_the_run_saying_so(
    engine: Engine, tmp_path: Path
) -> None:
    crashed = stored(engine)
    crash_half_way(engine, tmp_path, crashed)
    [newest] = sorted((tmp_path / "runs" / crashed / CHECKPOINT_DIR).glob("checkpoint-*"))
    newest.write_bytes(newest.read_bytes().replace(b'"cash":', b'"cash":1', 1))

    async def scenario() -> RunStatus:
        runner = JobRunner(
            engine=engine,
            catalog=DatasetCatalog(tmp_path),
            hub=ProgressHub(),
            workers=1,
            service=RunService(runs_dir=tmp_path / "runs"),
        )
        runner.start()
        try:
            return await wait_done(engine, crashed)
        finally:
            runner.shutdown()

    assert asyncio.run(scenario()) is RunStatus.FAILED  # not silently run from the start
    with session_scope(engine) as session:
        error = crud.get_run(session, run_id=crashed).error
    assert error is not None and "sha256 does not match its contents" in error["message"]
    assert error["kind"] == "CheckpointUnusable"


def test_a_restart_fails_a_running_run_with_no_checkpoint_as_before(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = stored(engine, RunStatus.RUNNING)  # crashed before its first checkpoint
    runner = JobRunner(
        engine=engine,
        catalog=DatasetCatalog(tmp_path),
        hub=ProgressHub(),
        workers=1,
        service=RunService(runs_dir=tmp_path / "runs"),
    )
    interrupted, requeued = runner.recover()
    runner.shutdown()
    assert interrupted == [run_id] and requeued == []
    with session_scope(engine) as session:
        assert crud.get_run(session, run_id=run_id).status is RunStatus.FAILED


def test_a_graceful_shutdown_leaves_a_checkpointed_run_to_resume(
    engine: Engine, tmp_path: Path
) -> None:
    # Ten times the spin per bar: the first checkpoint (bar 300) is seen and the shutdown
    # sent while ~2,700 bars remain, so the run cannot end before it on a loaded machine.
    run_id = stored(engine, code=STATEFUL_CODE.replace("range(30)", "range(300)"))
    run_dir = tmp_path / "runs" / run_id

    def runner() -> JobRunner:
        return JobRunner(
            engine=engine,
            catalog=DatasetCatalog(tmp_path),
            hub=ProgressHub(),
            workers=1,
            service=RunService(runs_dir=tmp_path / "runs"),
        )

    async def first_start() -> None:
        first = runner()
        first.start()
        try:
            deadline = asyncio.get_running_loop().time() + 120
            while not has_checkpoint(run_dir):
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.05)
        finally:
            first.shutdown()  # Ctrl-C

    async def second_start() -> RunStatus:
        second = runner()
        second.start()
        try:
            return await wait_done(engine, run_id)
        finally:
            second.shutdown()

    asyncio.run(first_start())
    with session_scope(engine) as session:
        assert crud.get_run(session, run_id=run_id).status is RunStatus.RUNNING
    assert has_checkpoint(run_dir)
    assert asyncio.run(second_start()) is RunStatus.DONE
    assert (run_dir / "trades.csv").is_file() and not (run_dir / CHECKPOINT_DIR).exists()
