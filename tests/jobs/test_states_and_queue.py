"""The run state table and the local pool's scheduling."""

from __future__ import annotations

import threading
import time

from app.db import RunStatus
from app.jobs import TERMINAL, TRANSITIONS, LocalProcessPool, RunJob, sources_of


def test_finished_states_are_final() -> None:
    assert {RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED} == TERMINAL
    assert all(not TRANSITIONS[status] for status in TERMINAL)


def test_only_a_queued_run_can_start_and_only_a_running_one_can_finish() -> None:
    assert sources_of(RunStatus.RUNNING) == {RunStatus.QUEUED}
    assert sources_of(RunStatus.DONE) == {RunStatus.RUNNING}
    assert sources_of(RunStatus.CANCELLED) == {RunStatus.QUEUED, RunStatus.RUNNING}
    # a restart queues a run found running again when it has a checkpoint to resume from
    assert sources_of(RunStatus.QUEUED) == {RunStatus.RUNNING}


def test_the_pool_runs_at_most_its_worker_count_at_once() -> None:
    lock = threading.Lock()
    active, peak, done = [0], [0], []

    def handler(job: RunJob, stop: threading.Event) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
            done.append(job.run_id)

    pool = LocalProcessPool(handler, workers=2)
    for number in range(6):
        pool.submit(RunJob(str(number)))
    pool.shutdown()
    assert peak[0] == 2


def test_a_waiting_job_cancelled_never_starts_and_a_running_one_is_told_to_stop() -> None:
    started = threading.Event()
    stopped: list[str] = []

    def handler(job: RunJob, stop: threading.Event) -> None:
        started.set()
        if stop.wait(5):
            stopped.append(job.run_id)

    pool = LocalProcessPool(handler, workers=1)
    pool.submit(RunJob("first"))
    pool.submit(RunJob("second"))
    assert started.wait(5)
    assert pool.cancel("second") is True
    assert pool.cancel("first") is False
    pool.shutdown()
    assert stopped == ["first"]
    assert pool.pending() == 0
