"""Fixtures for the sandbox tests: a small seeded market and short limits for worker runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

# pytest's rootdir-relative import puts tests/ on sys.path, where this folder would make
# `sandbox` a namespace package; the project root first keeps `sandbox` the real package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
import pytest

from app.engine import MarketData, RunConfig, RunResult
from sandbox import ForkServer, RunLimits, start_fork_server


def random_walk_market(bars: int = 600, seed: int = 7) -> MarketData:
    """A seeded 1-hour random walk around 30,000 with realistic intrabar ranges."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, bars)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.002, bars))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.002, bars))
    time = 1_704_067_200_000_000_000 + np.arange(bars, dtype=np.int64) * 3_600_000_000_000
    return MarketData(
        time=time, open=open_, high=high, low=low, close=close, volume=rng.uniform(1, 10, bars)
    )


@pytest.fixture(scope="session")
def make_market() -> Callable[..., MarketData]:
    """random_walk_market, for tests that need their own length or seed."""
    return random_walk_market


@pytest.fixture(scope="session")
def market() -> MarketData:
    return random_walk_market()


@pytest.fixture(scope="session")
def long_market() -> MarketData:
    """2,000 hourly bars: enough warm-up for every example's indicators."""
    return random_walk_market(bars=2_000, seed=11)


@pytest.fixture(scope="session")
def config() -> RunConfig:
    return RunConfig()


@pytest.fixture(scope="session")
def short_limits() -> RunLimits:
    """Limits for hostile runs: quick to hit, generous enough for a worker to start on 2 cores."""
    return RunLimits(wall_seconds=30.0, cpu_seconds=3.0, memory_mb=256, max_log_lines=200)


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    """A fork server for one test module (module scope: no sandbox process outlives its
    module, which the leftover-process checks count)."""
    server = start_fork_server()
    server.wait_ready()
    yield server
    server.close()


def outcome(result: RunResult) -> tuple[object, ...]:
    """What two runs of the same strategy must agree on: records, logs and metrics."""
    return (result.trades, result.orders, result.logs, result.metrics)
