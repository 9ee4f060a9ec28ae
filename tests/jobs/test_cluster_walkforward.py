"""A walk-forward on RQ and Redis: the folds' trials and their test runs execute on
`strategylab worker` processes, the web process runs no sandbox at all, and the files are the
local walk-forward's, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.db.models import SweepRow
from app.jobs.fold_tests import RedisFoldTests
from app.jobs.redis_queue import connect
from app.research.folds import DurationWindows
from app.research.walkforward import Acceptance, WalkForwardSpec, run_walkforward
from app.research.walkforward_outputs import write_walkforward_outputs
from app.runs import RunService
from tests.jobs.cluster_fixtures import Cluster
from tests.jobs.fixtures import SAMPLE_NAME
from tests.jobs.test_cluster_sweeps import base_of, grid, remote, storage

pytestmark = pytest.mark.slow
DAY = 24 * 3_600_000_000_000
OUTPUTS = ("folds.csv", "equity.csv", "trades.csv", "walkforward.json")


def spec() -> WalkForwardSpec:
    """Two folds of 40 days' training and 20 days' test over the 2,000-bar sample, two
    trials per fold."""
    return WalkForwardSpec(
        sweep=grid("fast=5,10"),
        scheme=DurationWindows(40 * DAY, 20 * DAY),
        warmup_bars=40,
        acceptance=Acceptance(min_trades=0, min_efficiency=-100.0),
    )


def sweep_row() -> SweepRow:
    return SweepRow(
        id="w",
        code="",
        code_hash="0" * 64,
        dataset=SAMPLE_NAME,
        dataset_version=SAMPLE_NAME,
        study_name="w",
        owner_id=None,
        created_at=datetime.now(UTC),
    )


def test_a_walkforward_on_the_workers_runs_no_sandbox_here_and_writes_the_local_files(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = base_of(cluster)
    service = RunService.from_settings(cluster.settings)
    names = {"dataset": base.inputs.data.name}
    cluster.start_worker()  # starts while the local walk-forward runs
    here = run_walkforward(
        spec(), base, service=service, storage_url=storage(tmp_path), workers=2, names=names,
        study_prefix="local",
    )  # fmt: skip
    assert [fold.status for fold in here.folds] == ["tested"] * 2, here.folds
    write_walkforward_outputs(here, spec(), base.market, tmp_path / "local")

    asked: list[str] = []

    def no_sandbox_here(*args: object, **kwargs: object) -> None:
        asked.append("sandbox")
        raise AssertionError("the web process started a sandbox")

    monkeypatch.setattr("sandbox.supervisor.start_worker_process", no_sandbox_here)
    monkeypatch.setattr("sandbox.supervisor._run_in_worker", no_sandbox_here)
    monkeypatch.setattr("app.research.walkforward.start_worker", no_sandbox_here)
    monkeypatch.setattr("app.runs.trials.start_fork_server", no_sandbox_here)
    tests = RedisFoldTests(connect(cluster.redis.url), job_timeout_s=120)(
        sweep_row(), lambda: False
    )
    there = run_walkforward(
        spec(), base, service=service, storage_url=storage(tmp_path), workers=2, names=names,
        study_prefix="remote", trials=remote(cluster), tests=tests,
    )  # fmt: skip
    assert asked == []
    write_walkforward_outputs(there, spec(), base.market, tmp_path / "remote")
    for name in OUTPUTS:
        local = (tmp_path / "local" / name).read_bytes()
        assert (tmp_path / "remote" / name).read_bytes() == local, name
    for mine, theirs in zip(here.folds, there.folds, strict=True):
        assert mine.test is not None and theirs.test is not None
        assert mine.test.orders == theirs.test.orders  # the whole result came back
        assert mine.test.logs == theirs.test.logs
        assert (mine.test.equity.equity == theirs.test.equity.equity).all()
    logs = "\n".join(path.read_text() for path in sorted(cluster.logs.iterdir()))
    assert logs.count("trial finished") == 2 * 2 + 2, logs  # every trial and every test
