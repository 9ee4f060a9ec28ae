"""Exactly once under stalls: a slow worker keeps its run, a replaced attempt stores nothing
(runs and sweep trials alike)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable

import pytest

from app.db import RunStatus
from app.jobs.lease_keeper import LeaseKeeper, lease_holder, renew_lease
from app.jobs.redis_keys import (
    LEASE_TTL_S,
    lease_key,
    lost_key,
    trial_lease_id,
    trial_result_key,
)
from app.jobs.redis_queue import connect
from app.jobs.trial_codec import TrialJob
from app.jobs.trial_job import current_attempt, store_outcome
from tests.jobs.cluster_fixtures import Cluster
from tests.jobs.fixtures import SAMPLE_NAME, SLOW_CODE
from tests.jobs.redis_server import ThrowawayRedis

pytestmark = pytest.mark.slow
STALE = "stale attempt dropped"


def _log_count(cluster: Cluster, text: str) -> int:
    return sum(path.read_text(errors="replace").count(text) for path in cluster.logs.iterdir())


async def _wait_for(condition: Callable[[], object], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


def test_a_stalled_worker_keeps_its_run_and_a_replaced_attempt_stores_nothing(
    short_lease_cluster: Cluster,
) -> None:
    cluster = short_lease_cluster  # leases of 4 s, renewed every 0.5 s
    ttl_s = cluster.settings.lease_ttl_s

    async def scenario() -> str:
        node = cluster.runner()
        node.start()  # its reaper looks every 2 s
        run_id = cluster.store(SLOW_CODE)
        node.submit(run_id)
        first = cluster.start_worker()
        await cluster.wait_status(run_id, {RunStatus.RUNNING})
        leases = connect(cluster.redis.url)
        await _wait_for(lambda: lease_holder(leases, lease_key(run_id)) == 1, "no lease taken")
        # 1. Slow, not lost: the worker's process stops past the lease's TTL, its lease
        # keeper goes on renewing, so the run is not queued again.
        os.kill(first.pid, signal.SIGSTOP)
        await asyncio.sleep(ttl_s + 3)
        assert node.reap() == []
        row = cluster.run_row(run_id)
        assert (row.status, row.attempt) == (RunStatus.RUNNING, 1)
        # 2. Lost: the whole worker (keeper and sandbox too) stops; the lease lapses and the
        # run is queued again for a second worker, which runs attempt 2 to the end.
        os.killpg(first.pid, signal.SIGSTOP)
        cluster.start_worker()
        await _wait_for(lambda: cluster.run_row(run_id).attempt == 2, "never queued again", 90)
        await cluster.wait_status(run_id, {RunStatus.DONE}, timeout_s=120)
        # 3. The first worker wakes up: its attempt was replaced, it stores nothing.
        os.killpg(first.pid, signal.SIGCONT)
        await _wait_for(lambda: _log_count(cluster, STALE) > 0, "no stale attempt logged")
        return run_id

    run_id = asyncio.run(scenario())
    row = cluster.run_row(run_id)
    assert (row.status, row.attempt) == (RunStatus.DONE, 2), cluster.worker_logs()
    assert _log_count(cluster, "run done run_id=") == 1, cluster.worker_logs()
    assert _log_count(cluster, "attempt=1 dataset") == 1
    assert int(connect(cluster.redis.url).get(lost_key(run_id)) or 0) == 1


def test_a_lease_is_never_taken_back_from_a_later_attempt(redis_server: ThrowawayRedis) -> None:
    connection = connect(redis_server.url)
    key = lease_key("run-x")
    assert renew_lease(connection, key, 1, LEASE_TTL_S)
    assert renew_lease(connection, key, 2, LEASE_TTL_S)  # the next attempt claims it
    assert not renew_lease(connection, key, 1, LEASE_TTL_S)  # the stale one cannot
    assert lease_holder(connection, key) == 2


def test_the_lease_keeper_renews_until_its_worker_goes_away(
    redis_server: ThrowawayRedis,
) -> None:
    connection = connect(redis_server.url)
    keeper = LeaseKeeper(redis_server.url, ttl_s=2, renew_s=0.5)
    try:
        keeper.hold(lease_key("run-y"), 1, until_s=time.time() + 60)
        time.sleep(3.5)  # longer than the TTL: only renewals keep it
        assert lease_holder(connection, lease_key("run-y")) == 1
    finally:
        keeper.close()  # as when its worker dies: end of input
    assert lease_holder(connection, lease_key("run-y")) is None


def test_a_trial_outcome_is_stored_once_and_only_by_the_current_attempt(
    redis_server: ThrowawayRedis,
) -> None:
    connection = connect(redis_server.url)
    job = TrialJob("k" * 64, "local", "code", SAMPLE_NAME, "", {}, {"fast": 5})
    assert current_attempt(connection, job.key) == 1
    connection.incr(lost_key(trial_lease_id(job.key)))  # attempt 1's worker found lost
    assert current_attempt(connection, job.key) == 2
    assert not store_outcome(connection, job, 1, "stale")  # the replaced attempt wakes up
    assert store_outcome(connection, job, 2, "current")
    assert not store_outcome(connection, job, 2, "again")  # counted once
    assert connection.get(trial_result_key(job.key)) == b"current"
