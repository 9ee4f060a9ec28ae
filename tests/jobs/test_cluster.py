"""Runs on RQ and Redis: separate worker processes, two web nodes, cancel, faults."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from app.db import RunStatus, crud, session_scope
from app.jobs.progress import Message
from app.jobs.queue import LOCAL_OWNER
from app.jobs.redis_job import WorkerContext, execute_run, serving
from app.jobs.redis_keys import job_id, lost_key, queue_name
from app.jobs.redis_queue import connect
from app.settings import Settings
from tests.jobs.cluster_fixtures import Cluster, descendants, is_alive
from tests.jobs.fixtures import SAMPLE_NAME, SLOW_CODE, SMA_CODE, make_settings, write_sample

pytestmark = pytest.mark.slow
DONE_OR_FAILED = {RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED}


async def collect(hub_view: tuple[list[Message], object], timeout_s: float = 60) -> list[Message]:
    """Every message one viewer of a run gets, snapshot first, until the stream ends."""
    snapshot, viewer = hub_view
    messages = list(snapshot)
    deadline = time.monotonic() + timeout_s
    while True:
        is_last = viewer.is_ended  # type: ignore[attr-defined]
        messages += viewer.take()  # type: ignore[attr-defined]
        if is_last:
            return messages
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the stream did not end; got {messages[-3:]}")
        try:
            await asyncio.wait_for(viewer.wake.wait(), remaining)  # type: ignore[attr-defined]
        except TimeoutError:
            continue


def test_runs_execute_once_on_worker_processes_and_every_web_node_sees_them(
    cluster: Cluster,
) -> None:
    async def scenario() -> tuple[list[RunStatus], list[Message]]:
        node_a, node_b = cluster.runner(), cluster.runner()
        node_a.start()
        node_b.start()
        run_ids = [cluster.store(SMA_CODE) for _ in range(4)]
        for run_id in run_ids:
            node_a.submit(run_id)
        node_a.submit(run_ids[0])  # submitted twice, and re-submitted by a restarting node:
        node_b.recover()  # still one job per run
        assert Queue(queue_name(LOCAL_OWNER), connection=connect(cluster.redis.url)).count == 4
        await asyncio.sleep(0.3)  # node B learns of the run from Redis
        watched = node_b._hub.subscribe(run_ids[-1])
        assert watched is not None, "node B does not know the run node A queued"
        cluster.start_worker()
        cluster.start_worker()
        messages = await collect(watched)
        statuses = [await cluster.wait_status(run_id, DONE_OR_FAILED) for run_id in run_ids]
        return statuses, messages

    statuses, messages = asyncio.run(scenario())
    assert statuses == [RunStatus.DONE] * 4, cluster.worker_logs()
    assert messages[-1]["type"] == "done" and messages[-1]["metrics"]
    assert any(m["type"] == "progress" and m["bars_done"] > 0 for m in messages)
    connection = connect(cluster.redis.url)
    for run_id in _all_runs(cluster):
        job = Job.fetch(job_id(run_id), connection=connection)
        assert _final_status(job) is JobStatus.FINISHED
        assert cluster.run_row(run_id).provenance is not None


def _final_status(job: Job, timeout_s: float = 15.0) -> JobStatus | None:
    """The job's status once RQ has moved it on from STARTED: the run is stored inside the
    job's function, so RQ marks the job finished a moment after the run reads DONE."""
    deadline = time.monotonic() + timeout_s
    status = job.get_status()
    while status is JobStatus.STARTED and time.monotonic() < deadline:
        time.sleep(0.05)
        status = job.get_status()
    return status


def _all_runs(cluster: Cluster) -> list[str]:
    with session_scope(cluster.engine) as session:
        return [run.id for run in crud.list_runs(session, limit=100)]


def test_cancel_from_a_web_node_stops_the_run_on_its_worker(cluster: Cluster) -> None:
    async def scenario() -> tuple[RunStatus, list[Message]]:
        node_a, node_b = cluster.runner(), cluster.runner()
        node_a.start()
        node_b.start()
        run_id = cluster.store(SLOW_CODE)
        node_a.submit(run_id)
        cluster.start_worker()
        await cluster.wait_status(run_id, {RunStatus.RUNNING})
        watched = node_b._hub.subscribe(run_id)
        assert watched is not None
        status = await node_a.cancel(run_id, wait_s=30)
        return status, await collect(watched)

    status, messages = asyncio.run(scenario())
    assert status is RunStatus.CANCELLED
    assert messages[-1] == {
        "type": "error",
        "message": "the run was cancelled",
        "line": None,
        "status": "cancelled",
    }


def test_a_worker_killed_mid_run_leaves_no_sandbox_and_another_worker_reruns_it(
    cluster: Cluster,
) -> None:
    async def scenario() -> tuple[RunStatus, list[int]]:
        node = cluster.runner()
        node.start()
        run_id = cluster.store(SLOW_CODE)
        node.submit(run_id)
        worker = cluster.start_worker()
        await cluster.wait_status(run_id, {RunStatus.RUNNING})
        deadline = time.monotonic() + 30
        while not (sandboxes := descendants(worker.pid)):
            assert time.monotonic() < deadline, "no sandbox process appeared"
            await asyncio.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)  # kill -9 the worker alone, not its children
        worker.wait(10)
        cluster.start_worker()  # the requeue is seen by its count below: the new worker may
        status = await cluster.wait_status(run_id, DONE_OR_FAILED, timeout_s=120)  # be quick
        return status, sandboxes

    status, sandboxes = asyncio.run(scenario())
    assert status is RunStatus.DONE, cluster.worker_logs()
    assert int(connect(cluster.redis.url).get(lost_key(_all_runs(cluster)[0])) or 0) == 1
    deadline = time.monotonic() + 20
    while any(is_alive(pid) for pid in sandboxes):
        assert time.monotonic() < deadline, "a sandbox process outlived its worker"
        time.sleep(0.1)


def test_a_run_whose_worker_is_lost_a_second_time_fails_worker_lost(cluster: Cluster) -> None:
    async def scenario() -> list[Message]:
        node = cluster.runner()
        node.start()
        run_id = cluster.store(SMA_CODE)
        with session_scope(cluster.engine) as session:  # a worker took it, then vanished
            crud.set_run_status(
                session,
                run_id=run_id,
                expected=(RunStatus.QUEUED,),
                status=RunStatus.RUNNING,
                values={},
            )
        connect(cluster.redis.url).set(lost_key(run_id), 1)  # its first worker was lost too
        node._hub.open(run_id)
        watched = node._hub.subscribe(run_id)
        assert watched is not None
        assert node.reap() == [run_id]
        assert node.reap() == []
        return await collect(watched, timeout_s=10)

    messages = asyncio.run(scenario())
    error = _error_of(cluster)
    assert error["kind"] == "worker_lost"
    assert str(error["message"]).startswith("worker lost: the workers running this run stopped")
    assert messages[-1]["type"] == "error" and messages[-1]["status"] == "failed"


def _error_of(cluster: Cluster) -> dict[str, object]:
    error = cluster.run_row(_all_runs(cluster)[0]).error
    assert error is not None
    return error


def test_queued_runs_survive_a_redis_crash(cluster: Cluster) -> None:
    async def scenario() -> list[RunStatus]:
        node = cluster.runner()
        node.start()
        run_ids = [cluster.store(SMA_CODE)]
        node.submit(run_ids[0])
        cluster.redis.kill()  # kill -9: only what reached the append-only file survives
        cluster.redis.start()
        cluster.start_worker("--burst")
        return [await cluster.wait_status(run_id, DONE_OR_FAILED) for run_id in run_ids]

    assert asyncio.run(scenario()) == [RunStatus.DONE], cluster.worker_logs()


def test_a_worker_refuses_a_dataset_whose_bytes_differ_from_the_runs(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_id = cluster.store(SMA_CODE)
    other = tmp_path_factory.mktemp("other-store")
    write_sample(other, bars=500)  # same name, other bytes
    settings = make_settings(
        other,
        redis_url=cluster.redis.url,
        database_url=cluster.settings.resolved_database_url,
    )
    with serving(WorkerContext.from_settings(settings, warm=False)) as context:
        execute_run(run_id, context)
    run = cluster.run_row(run_id)
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    message = str(run.error["message"])
    assert "on this worker has content sha256:" in message
    assert cluster.sample_hash in message and "STRATEGYLAB_DATA_DIR" in message


def test_a_run_stored_while_redis_was_away_is_queued_once_redis_is_back(cluster: Cluster) -> None:
    async def scenario() -> tuple[list[str], list[str], int]:
        node = cluster.runner()
        node.start()
        cluster.redis.kill()
        run_id = cluster.store(SMA_CODE)
        node.submit(run_id)  # Redis is down: logged, the run stays queued in the database
        cluster.redis.start()
        first, again = node.resubmit(), node.resubmit()
        count = Queue(queue_name(LOCAL_OWNER), connection=connect(cluster.redis.url)).count
        return first, again, count

    first, again, count = asyncio.run(scenario())
    assert first == _all_runs(cluster) and again == [] and count == 1


def test_a_run_over_two_symbols_runs_on_a_worker_that_checks_both_datasets(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The further symbol's dataset is checked against the hash the run's provenance recorded
    # when it was stored, as the run's own dataset is against the row's dataset_hash.
    import shutil

    from app.data.catalog import DatasetCatalog
    from app.data.parquet import write_ohlcv_parquet
    from app.data.samples import generate_ohlcv
    from app.engine.types import Mode
    from app.runs.prepare import RunOrder
    from app.runs.submission import CodeChoice, Submission, create_run

    code = (
        Path(__file__).resolve().parents[2] / "strategies_examples" / "relative_strength.py"
    ).read_text()
    eth_name = "ETHUSDT-1h"

    def write_eth(data_dir: Path, seed: int) -> None:
        eth = generate_ohlcv(bars=2_000, timeframe="1h", start="2024-01-01", seed=seed)
        write_ohlcv_parquet(eth, data_dir / "samples" / f"{eth_name}.parquet")

    def worker_settings(data_dir: Path) -> Settings:
        return make_settings(
            data_dir,
            redis_url=cluster.redis.url,
            database_url=cluster.settings.resolved_database_url,
        )

    write_eth(cluster.settings.data_dir, seed=23)
    submission = Submission(
        dataset=SAMPLE_NAME,
        choice=CodeChoice(code=code),
        order=RunOrder(
            options={"mode": Mode.SPOT}, params={"lookback": 24}, more_datasets=(eth_name,)
        ),
    )
    run_ids = []
    for _ in range(2):
        with session_scope(cluster.engine) as session:
            row = create_run(
                session, submission=submission, catalog=DatasetCatalog(cluster.settings.data_dir)
            )
            run_ids.append(row.id)
    with serving(
        WorkerContext.from_settings(worker_settings(cluster.settings.data_dir), warm=False)
    ) as context:
        execute_run(run_ids[0], context)
    done = cluster.run_row(run_ids[0])
    assert done.status is RunStatus.DONE, done.error
    assert done.metrics
    # A worker whose store holds other bytes for the further symbol refuses the run, naming
    # that dataset and the hash the run recorded for it.
    other = tmp_path_factory.mktemp("other-eth")
    (other / "samples").mkdir()
    shutil.copy(
        cluster.settings.data_dir / "samples" / f"{SAMPLE_NAME}.parquet",
        other / "samples" / f"{SAMPLE_NAME}.parquet",
    )
    write_eth(other, seed=24)
    recorded = DatasetCatalog(cluster.settings.data_dir).resolve(eth_name).content_hash
    with serving(WorkerContext.from_settings(worker_settings(other), warm=False)) as context:
        execute_run(run_ids[1], context)
    failed = cluster.run_row(run_ids[1])
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    message = str(failed.error["message"])
    assert f"dataset '{eth_name}' on this worker has content sha256:" in message
    assert recorded in message
