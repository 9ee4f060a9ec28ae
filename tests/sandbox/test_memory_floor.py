"""Every example runs at the lowest memory limit a run may ask for, every time.

At a 1 GB RLIMIT_AS the SMA example failed now and then ("ArrowMemoryError: malloc of size
64 failed" in `initialize()`): pyarrow's allocator reserved 1 GiB at its first allocation,
before or after the lock-down depending on whether the worker had warmed up. So each example
runs several times at MIN_MEMORY_MB, in cold workers (job waiting, no warm-up) and in warm
ones (warmed up before the job), and must give the same result each time.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from app.engine import MarketData, RunConfig, RunResult
from sandbox import RunLimits, WarmWorker, run_sandboxed, start_worker
from sandbox.limits import MIN_MEMORY_MB
from tests.sandbox.conftest import random_walk_market
from tests.sandbox.test_examples_sandboxed import market_for

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "strategies_examples").glob("*.py"))
FLOOR = RunLimits(wall_seconds=300.0, cpu_seconds=240.0, memory_mb=MIN_MEMORY_MB)
WARM_UP_TIMEOUT_S = 60.0
"""How long a started worker may take to import and warm up (seconds alone, ~15 s on a
2-core machine at load 20)."""


def wait_until_warm(worker: WarmWorker) -> None:
    """Until `worker` has imported and warmed up and waits for its job: its main thread is
    blocked in read(0, ...) on its stdin (Linux /proc/<pid>/syscall: the syscall number, 0 for
    read on x86-64, then its first argument, the fd). Any other state means it is still busy.

    A fixed 4 s sleep stood here: idle time on an unloaded machine, and too short on a loaded
    one, where the "warm" worker often got its job while still importing."""
    syscall = Path(f"/proc/{worker.process.pid}/syscall")
    deadline = time.monotonic() + WARM_UP_TIMEOUT_S
    while syscall.read_text().split()[:2] != ["0", "0x0"]:
        assert worker.process.poll() is None, "the worker exited while warming up"
        assert time.monotonic() < deadline, f"the worker was not warm in {WARM_UP_TIMEOUT_S} s"
        time.sleep(0.02)


def _run(source: str, market: MarketData, *, is_warm: bool) -> RunResult:
    worker = start_worker() if is_warm else None
    if worker is not None:
        wait_until_warm(worker)
    return run_sandboxed(source, market, RunConfig(), FLOOR, worker=worker)


@pytest.mark.slow  # three worker runs per example
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_cant_fail_an_example_at_the_memory_floor(path: Path, long_market: MarketData) -> None:
    source = path.read_text()
    market = market_for(path, long_market)  # a second symbol for an example trading two
    results = [_run(source, market, is_warm=is_warm) for is_warm in (False, True, False)]
    first = results[0]
    for other in results[1:]:
        assert other.trades == first.trades
        assert other.orders == first.orders
        np.testing.assert_array_equal(other.equity.equity, first.equity.equity)


@pytest.mark.slow  # a year of one-minute bars through five indicators: tens of seconds
def test_cant_fail_the_heaviest_example_on_525_600_bars_at_the_floor() -> None:
    market = random_walk_market(bars=525_600, seed=3)
    source = Path(__file__).resolve().parents[2] / "strategies_examples/trend_pullback.py"
    result = run_sandboxed(source.read_text(), market, RunConfig(), FLOOR)
    assert result.bars_total == 525_600
