"""Sweep trials on RQ and Redis: executed by `strategylab worker` processes, the same results
as on this machine, resumed after a web node stops without running a trial twice, cancel
reaching the workers, a lost worker's trial retried, owners taking turns with runs."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rq import Queue

from app.data.catalog import DatasetCatalog
from app.db.models import RunStatus, SweepRow
from app.engine import RunConfig
from app.jobs.owners import owner_key
from app.jobs.queue import RunJob
from app.jobs.redis_keys import queue_name
from app.jobs.redis_queue import RedisJobQueue, connect
from app.jobs.remote_trials import RedisSweepTrials
from app.research.space import parse_space
from app.research.sweep import (
    Constraints,
    Objective,
    SweepSpec,
    TrialRunnerFactory,
    local_trials,
    run_sweep,
)
from app.runs import PreparedRun, RunService
from app.runs.trials import TrialFailed, TrialRun
from tests.jobs.cluster_fixtures import Cluster, descendants, is_alive
from tests.jobs.fixtures import SAMPLE_NAME, SLOW_CODE, SMA_CODE

pytestmark = pytest.mark.slow
TRIAL_STARTED = re.compile(r"trial started trial=(\w+)")


def base_of(cluster: Cluster, code: str = SMA_CODE) -> PreparedRun:
    return RunService.from_settings(cluster.settings).prepare_stored(
        code=code,
        dataset=SAMPLE_NAME,
        config_data=RunConfig(symbol="TESTUSDT").to_dict(),
        catalog=DatasetCatalog(cluster.settings.data_dir),
    )


def grid(*ranges: str, batch_size: int = 2) -> SweepSpec:
    return SweepSpec(
        space=parse_space(list(ranges), {"fast": 10, "slow": 30, "spin": 3000}),
        method="grid",
        objectives=(Objective("total_return", "maximize"),),
        constraints=Constraints(),
        n_trials=None,
        seed=3,
        batch_size=batch_size,
    )


def remote(
    cluster: Cluster, *, owner_id: int | None = None, is_pausing: bool = False
) -> TrialRunnerFactory:
    sweep = SweepRow(
        id="s",
        code="",
        code_hash="0" * 64,
        dataset=SAMPLE_NAME,
        dataset_version=SAMPLE_NAME,
        study_name="s",
        owner_id=owner_id,
        created_at=datetime.now(UTC),
    )
    trials = RedisSweepTrials(connect(cluster.redis.url), job_timeout_s=120)
    return trials(sweep, lambda: is_pausing)


def storage(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'studies.db'}"


def full_logs(cluster: Cluster) -> str:
    """Every worker's whole log, in worker order."""
    return "\n".join(path.read_text(errors="replace") for path in sorted(cluster.logs.iterdir()))


def trial_starts(cluster: Cluster) -> list[str]:
    return TRIAL_STARTED.findall(full_logs(cluster))


def test_trials_run_on_the_workers_with_the_results_of_local_trials(
    cluster: Cluster, tmp_path: Path
) -> None:
    spec = grid("fast=5,10", "slow=30,40")  # 4 trials in 2 batches
    base = base_of(cluster)
    cluster.start_worker()
    cluster.start_worker()
    on_workers = run_sweep(
        spec, base, storage_url=storage(tmp_path), study_name="remote", workers=2,
        trials=remote(cluster),
    )  # fmt: skip
    here = run_sweep(
        spec, base, storage_url=storage(tmp_path), study_name="local", workers=2,
        trials=local_trials,
    )  # fmt: skip
    assert [t.params for t in on_workers.trials] == [t.params for t in here.trials]
    assert [t.metrics for t in on_workers.trials] == [t.metrics for t in here.trials]
    assert (on_workers.daily_returns == here.daily_returns).all()
    starts = trial_starts(cluster)
    assert len(starts) == 4 and len(set(starts)) == 4, cluster.worker_logs()


def test_a_stopped_web_node_leaves_its_trials_to_the_workers_and_the_next_collects_them(
    cluster: Cluster, tmp_path: Path
) -> None:
    spec = grid("fast=5,10", "slow=30,40")
    base = base_of(cluster)
    stop = threading.Event()
    connection = connect(cluster.redis.url)
    queue = Queue(queue_name(owner_key(None)), connection=connection)

    def stop_once_queued() -> None:
        while queue.count < 2:
            time.sleep(0.05)
        stop.set()  # the web node stops with its first batch queued, no worker yet

    threading.Thread(target=stop_once_queued, daemon=True).start()
    first = run_sweep(
        spec, base, storage_url=storage(tmp_path), study_name="s", workers=2, cancel=stop,
        trials=remote(cluster, is_pausing=True),
    )  # fmt: skip
    assert first.cancelled and first.trials == ()
    assert queue.count == 2  # left queued for the workers, not cancelled
    cluster.start_worker()
    cluster.start_worker()
    again = run_sweep(
        spec, base, storage_url=storage(tmp_path), study_name="s", workers=2,
        trials=remote(cluster),
    )  # fmt: skip
    assert not again.cancelled and [t.number for t in again.trials] == [0, 1, 2, 3]
    assert all(t.error is None for t in again.trials), again.trials
    starts = trial_starts(cluster)
    assert len(starts) == 4 and len(set(starts)) == 4, cluster.worker_logs()  # none twice


def test_cancel_kills_the_trials_on_the_workers(cluster: Cluster) -> None:
    base = base_of(cluster, SLOW_CODE)
    cluster.start_worker()
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def cancel_once_started() -> None:
        deadline = time.monotonic() + 120
        while len(trial_starts(cluster)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)  # the second trial's sandbox is running
        cancelled_at.append(time.monotonic())
        cancel.set()

    with remote(cluster)(base, study_name="c", workers=1) as runner:
        warm = runner.run_batch([{"spin": 10}], numbers=[0])  # the worker prepares the base
        assert isinstance(warm[0], TrialRun), warm
        threading.Thread(target=cancel_once_started, daemon=True).start()
        outcomes = runner.run_batch([{"spin": 10**7}], cancel=cancel, numbers=[1])
    stopped_s = time.monotonic() - cancelled_at[0]
    assert outcomes == [None]
    assert stopped_s < 10, stopped_s  # the worker let go of it (the trial would take hours)
    assert "trial cancelled" in full_logs(cluster), full_logs(cluster)


def test_a_trial_whose_worker_is_killed_is_run_again_on_another_and_leaves_no_sandbox(
    short_lease_cluster: Cluster,
) -> None:
    cluster = short_lease_cluster  # a lease not deleted by the keeper lapses within 4 s
    base = base_of(cluster, SLOW_CODE)
    doomed = cluster.start_worker()
    factory = remote(cluster)
    outcome: list[object] = []

    def run() -> None:
        with factory(base, study_name="k", workers=1) as runner:
            outcome.extend(runner.run_batch([{"spin": 2_000}], numbers=[0]))

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while not trial_starts(cluster):
        assert time.monotonic() < deadline, cluster.worker_logs()
        time.sleep(0.1)
    time.sleep(1.5)  # the trial's sandbox is forked and running
    below = descendants(doomed.pid)  # its lease keeper, fork server, sandboxes
    assert len(below) >= 3, below
    os.kill(doomed.pid, signal.SIGKILL)  # kill -9 the worker alone, not its children
    cluster.start_worker()
    thread.join(90)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], TrialRun), outcome
    assert len(trial_starts(cluster)) == 2, cluster.worker_logs()
    deadline = time.monotonic() + 20
    while alive := [pid for pid in below if is_alive(pid)]:
        assert time.monotonic() < deadline, f"processes outlived their worker: {alive}"
        time.sleep(0.1)


def test_a_users_big_sweep_does_not_starve_another_users_run(cluster: Cluster) -> None:
    base = base_of(cluster)
    alice, bob = 1, 2
    factory = remote(cluster, owner_id=alice)
    outcomes: list[object] = []

    def sweep() -> None:
        params = [{"fast": fast, "slow": 40} for fast in range(2, 14)]  # 12 trials at once
        with factory(base, study_name="big", workers=1) as runner:
            outcomes.extend(runner.run_batch(params, numbers=list(range(12))))

    thread = threading.Thread(target=sweep)
    thread.start()
    connection = connect(cluster.redis.url)
    alice_queue = Queue(queue_name(owner_key(alice)), connection=connection)
    while alice_queue.count < 12:
        time.sleep(0.05)
    run_id = cluster.store(SMA_CODE, owner_id=bob)
    RedisJobQueue(lambda job, stop: None, workers=1, connection=connection,
                  owner_of=lambda _: owner_key(bob)).submit(RunJob(run_id))  # fmt: skip
    cluster.start_worker()
    thread.join(180)
    assert len(outcomes) == 12 and not any(isinstance(o, TrialFailed) for o in outcomes)
    assert cluster.status(run_id) is RunStatus.DONE
    logs = full_logs(cluster)
    before_run = logs[: logs.index(f"run started run_id={run_id}")]
    assert len(TRIAL_STARTED.findall(before_run)) <= 2, logs  # one turn, not twelve
