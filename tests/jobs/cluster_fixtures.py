"""Set-up for the cluster tests: a Redis server, a shared data folder and database, workers
as separate `strategylab worker` processes, and web-node job runners on Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine

from app.data.catalog import DatasetCatalog
from app.db import RunRow, RunStatus, crud, make_engine, migrate, session_scope
from app.engine import RunConfig
from app.jobs.progress import ProgressHub
from app.jobs.redis_keys import LeaseTiming
from app.jobs.redis_queue import ClusterJobRunner, connect
from app.runs import RunService
from app.settings import Settings
from tests.jobs.fixtures import SAMPLE_NAME, make_settings, write_sample
from tests.jobs.redis_server import ThrowawayRedis, find_redis_server

STRATEGYLAB = str(Path(sys.executable).parent / "strategylab")


@pytest.fixture
def redis_server() -> Iterator[ThrowawayRedis]:
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/install-redis)")
    server = ThrowawayRedis(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Cluster:
    """One installation: its settings, database, sample data, workers and web-node runners."""

    def __init__(self, tmp_path: Path, redis_server: ThrowawayRedis, **overrides: object) -> None:
        write_sample(tmp_path)
        self.redis = redis_server
        self.settings: Settings = make_settings(tmp_path, redis_url=redis_server.url, **overrides)
        self.engine: Engine = make_engine(self.settings.resolved_database_url)
        migrate(self.engine)
        self.sample_hash = DatasetCatalog(tmp_path).resolve(SAMPLE_NAME).content_hash
        self.workers: list[subprocess.Popen[bytes]] = []
        self.runners: list[ClusterJobRunner] = []
        self.logs = tmp_path / "worker-logs"
        self.logs.mkdir()

    def environment(self) -> dict[str, str]:
        settings = self.settings
        return {
            **os.environ,
            "STRATEGYLAB_REDIS_URL": self.redis.url,
            "STRATEGYLAB_DATA_DIR": str(settings.data_dir),
            "STRATEGYLAB_RUNS_DIR": str(settings.runs_dir),
            "STRATEGYLAB_DATABASE_URL": settings.resolved_database_url,
            "STRATEGYLAB_LEASE_TTL_S": str(settings.lease_ttl_s),
            "STRATEGYLAB_LEASE_RENEW_S": str(settings.lease_renew_s),
        }

    def start_worker(self, *extra: str) -> subprocess.Popen[bytes]:
        """A `strategylab worker` process (its own session, so the test can kill it alone)."""
        with (self.logs / f"worker-{len(self.workers)}.log").open("wb") as log:
            process = subprocess.Popen(
                [STRATEGYLAB, "worker", *extra],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.workers.append(process)
        return process

    def runner(self) -> ClusterJobRunner:
        """A web node's job runner (call start() inside the event loop)."""
        runner = ClusterJobRunner(
            engine=self.engine,
            catalog=DatasetCatalog(self.settings.data_dir),
            hub=ProgressHub(min_interval_s=0.05),
            service=RunService.from_settings(self.settings),
            connection=connect(self.redis.url),
            lease_timing=LeaseTiming.from_settings(self.settings),
        )
        self.runners.append(runner)
        return runner

    def store(self, code: str, *, owner_id: int | None = None) -> str:
        """A queued run as the API stores it, naming the sample's content hash."""
        config = RunConfig(symbol="TESTUSDT")
        run = RunRow(
            id=uuid.uuid4().hex,
            status=RunStatus.QUEUED,
            owner_id=owner_id,
            code=code,
            code_hash=crud.code_hash(code),
            dataset=SAMPLE_NAME,
            dataset_version=SAMPLE_NAME,
            dataset_hash=self.sample_hash,
            config=config.to_dict(),
            config_hash=config.fingerprint(),
            created_at=datetime.now(UTC),
        )
        with session_scope(self.engine) as session:
            crud.create_run(session, run=run)
        return run.id

    def run_row(self, run_id: str) -> RunRow:
        with session_scope(self.engine) as session:
            run = crud.get_run(session, run_id=run_id)
            session.expunge(run)
            return run

    def status(self, run_id: str) -> RunStatus:
        return self.run_row(run_id).status

    async def wait_status(
        self, run_id: str, wanted: set[RunStatus], timeout_s: float = 60
    ) -> RunStatus:
        deadline = time.monotonic() + timeout_s
        while (status := self.status(run_id)) not in wanted:
            if time.monotonic() > deadline:
                raise AssertionError(f"run {run_id} is still {status.value}\n{self.worker_logs()}")
            await asyncio.sleep(0.1)
        return status

    def worker_logs(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in self.logs.iterdir())

    def close(self) -> None:
        for runner in self.runners:
            runner.shutdown()
        for process in self.workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.engine.dispose()


@pytest.fixture
def cluster(tmp_path: Path, redis_server: ThrowawayRedis) -> Iterator[Cluster]:
    installation = Cluster(tmp_path, redis_server)
    try:
        yield installation
    finally:
        installation.close()


SHORT_LEASE: dict[str, object] = {"lease_ttl_s": 4, "lease_renew_s": 0.5}
"""Leases lapsing within seconds (the operator's settings), so the tests that wait for a lost
or stalled worker's lease wait less than the 10 s default."""


@pytest.fixture
def short_lease_cluster(tmp_path: Path, redis_server: ThrowawayRedis) -> Iterator[Cluster]:
    installation = Cluster(tmp_path, redis_server, **SHORT_LEASE)
    try:
        yield installation
    finally:
        installation.close()


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (Linux /proc)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in children:
                found.append(int(child))
                pending.append(int(child))
    return found


def is_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
