"""The pool of pre-started workers: live workers handed out once, replaced, killed on close,
at the pool's priority, and gone when their parent dies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from app.engine import MarketData, RunConfig, run_backtest
from sandbox import WarmWorker, WorkerPool, compile_strategy, run_sandboxed

PROJECT = Path(__file__).resolve().parents[2]
SMA = (PROJECT / "strategies_examples" / "sma_crossover.py").read_text()
IDLE_COMMAND = [sys.executable, "-c", "import sys; sys.stdin.buffer.read()"]
"""A stand-in worker for the pool's bookkeeping: starts at once, exits when its stdin closes."""

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")


class Recorder:
    """A pool's start function that keeps every worker it started."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command
        self.started: list[WarmWorker] = []
        self.lock = threading.Lock()

    def __call__(self) -> WarmWorker:
        worker = WarmWorker(self.command) if self.command else WarmWorker()
        with self.lock:
            self.started.append(worker)
        return worker

    def count(self) -> int:
        with self.lock:
            return len(self.started)


def wait_until(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not reached")
        time.sleep(0.02)


def is_running(pid: int) -> bool:
    """The process exists and is not a zombie (an unreaped orphan counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def is_waiting_for_its_job(pid: int) -> bool:
    """The worker is blocked in read(0, ...): imports and warm-up are done."""
    try:
        return Path(f"/proc/{pid}/syscall").read_text().split()[:2] == ["0", "0x0"]
    except OSError:
        return False


def test_take_hands_out_a_live_worker_and_starts_a_replacement() -> None:
    recorder = Recorder(IDLE_COMMAND)
    with WorkerPool(2, start=recorder) as pool:
        wait_until(lambda: pool.idle_count() == 2)
        first, second = recorder.started
        taken = pool.take()
        try:
            assert taken is first and taken.process.poll() is None
            wait_until(lambda: recorder.count() == 3 and pool.idle_count() == 2)
            assert pool.take() is second
            wait_until(lambda: recorder.count() == 4 and pool.idle_count() == 2)
        finally:
            first.close()
            second.close()
        assert all(worker.process.poll() is None for worker in recorder.started[2:])


def test_a_worker_that_died_while_idle_is_replaced_and_never_handed_out() -> None:
    recorder = Recorder(IDLE_COMMAND)
    with WorkerPool(1, start=recorder) as pool:
        wait_until(lambda: pool.idle_count() == 1)
        dead = recorder.started[0]
        os.killpg(dead.process.pid, signal.SIGKILL)
        dead.process.wait(5)
        taken = pool.take()
        with taken:
            assert taken is not dead and taken.process.poll() is None
        wait_until(lambda: pool.idle_count() == 1)  # the dead one's and the taken one's gaps
        assert recorder.count() >= 3


def test_the_pool_replaces_a_dead_idle_worker_without_being_asked() -> None:
    recorder = Recorder(IDLE_COMMAND)
    with WorkerPool(1, start=recorder) as pool:
        wait_until(lambda: pool.idle_count() == 1)
        dead = recorder.started[0]
        os.killpg(dead.process.pid, signal.SIGKILL)
        wait_until(lambda: recorder.count() == 2, timeout_s=10)
        wait_until(lambda: pool.idle_count() == 1)
        assert recorder.started[1].process.poll() is None
        assert not Path(dead.workdir).exists()


def test_take_starts_a_worker_now_when_none_is_ready() -> None:
    gate = threading.Event()
    recorder = Recorder(IDLE_COMMAND)

    def slow_in_the_background() -> WarmWorker:
        if threading.current_thread() is not threading.main_thread():
            gate.wait(30)
        return recorder()

    pool = WorkerPool(1, start=slow_in_the_background)
    try:
        with pool.take() as worker:
            assert worker.process.poll() is None
            assert recorder.started == [worker]
    finally:
        gate.set()
        pool.close()


def test_close_kills_the_idle_workers_and_starts_no_more() -> None:
    recorder = Recorder(IDLE_COMMAND)
    pool = WorkerPool(2, start=recorder)
    wait_until(lambda: pool.idle_count() == 2)
    pool.close()
    assert pool.idle_count() == 0
    for worker in recorder.started:
        assert worker.process.poll() is not None
        assert not Path(worker.workdir).exists()
    time.sleep(1.5)
    assert recorder.count() == 2


@linux_only
def test_pooled_workers_run_at_the_pool_priority_not_the_callers() -> None:
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    wanted = min(own + 5, 19)
    recorder = Recorder(IDLE_COMMAND)
    with WorkerPool(1, nice=wanted, start=recorder) as pool:
        wait_until(lambda: pool.idle_count() == 1)
        with pool.take() as worker:
            assert os.getpriority(os.PRIO_PROCESS, worker.process.pid) == wanted
        wait_until(lambda: pool.idle_count() == 1)
        assert os.getpriority(os.PRIO_PROCESS, recorder.started[1].process.pid) == wanted
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own


@linux_only
def test_a_warm_pooled_worker_runs_the_strategy_like_the_engine(
    market: MarketData, config: RunConfig
) -> None:
    with WorkerPool(1) as pool:
        wait_until(lambda: pool.idle_count() == 1)
        worker = pool.take()
        wait_until(lambda: is_waiting_for_its_job(worker.process.pid))
        sandboxed = run_sandboxed(SMA, market, config, worker=worker)
        assert worker.process.poll() is not None  # one run per worker
        wait_until(lambda: pool.idle_count() == 1)
    direct = run_backtest(compile_strategy(SMA).strategy_class, market, config)  # type: ignore[arg-type]
    assert sandboxed.trades and sandboxed.trades == direct.trades
    assert sandboxed.orders == direct.orders
    np.testing.assert_array_equal(sandboxed.equity.equity, direct.equity.equity)


PARENT = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[1])
    from sandbox import WorkerPool
    pool = WorkerPool(2)
    while pool.idle_count() < 2:
        time.sleep(0.02)
    print(" ".join(str(w.process.pid) for w in pool._idle), flush=True)
    time.sleep(600)
    """
)


@linux_only
def test_idle_workers_exit_when_their_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(PROJECT)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(is_running(pid) for pid in pids)
    finally:
        parent.kill()
        parent.wait(10)
        if parent.stdout is not None:
            parent.stdout.close()
    wait_until(lambda: not any(is_running(pid) for pid in pids), timeout_s=60)
