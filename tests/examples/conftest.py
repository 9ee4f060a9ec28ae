"""Shared set-up for the example-strategy tests: one synthetic BTCUSDT-like hour series and
one fork server for their sandbox workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from app.data import generate_ohlcv
from sandbox import ForkServer, start_fork_server

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "strategies_examples"


@pytest.fixture(scope="session")
def hourly_frame() -> pd.DataFrame:
    """About five months of 1h bars; the same every time (seeded)."""
    return generate_ohlcv(bars=3_600, timeframe="1h", seed=11)


@pytest.fixture(scope="module")
def fork_server() -> Iterator[ForkServer]:
    """The fork server of a module's example runs, as the server's job pool has one. Per
    module, not per session: tests elsewhere on the same xdist worker check that no sandbox
    process outlives what started it (tests/sandbox/test_attacks.py, test_pool_shutdown.py).

    It holds no run's state: each run still gets a child forked for it alone and confined
    afresh. A worker started from scratch (as `strategylab run` starts one) cost each run here
    ~2 s of CPU in imports."""
    server = start_fork_server()
    yield server
    server.close()
