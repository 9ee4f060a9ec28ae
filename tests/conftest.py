"""Shared fixtures: small hand-written markets for worked examples, and forked run workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pandas as pd
import pytest

from app.engine import MarketData
from tests.worker_reuse import FRESH_WORKER_MARK, ModuleForkServer, fork_runs_from

OhlcRow = tuple[float, float, float, float]
MarketBuilder = Callable[..., MarketData]


def build_market(
    rows: Sequence[float] | Sequence[OhlcRow],
    *,
    start: str = "2024-01-01",
    freq: str = "1h",
    funding: pd.Series | None = None,
    volume: float = 1.0,
) -> MarketData:
    """A market from closes (each bar flat: open = high = low = close) or (o, h, l, c) rows.

    Bars open at `start` (UTC) and every `freq` after it; `funding` is an optional rate series.
    """
    ohlc = np.array(
        [row if isinstance(row, tuple) else (row, row, row, row) for row in rows],
        dtype=np.float64,
    )
    index = pd.date_range(start, periods=len(ohlc), freq=freq, tz="UTC", name="time")
    frame = pd.DataFrame(ohlc, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = volume
    return MarketData.from_frame(frame, funding=funding)


@pytest.fixture
def make_market() -> MarketBuilder:
    """`build_market(rows, start=..., freq=..., funding=...)` as a fixture."""
    return build_market


@pytest.fixture(scope="module")
def module_fork_server() -> Iterator[ModuleForkServer]:
    """A fork server for the runs of one test module, started by its first run (see
    tests/worker_reuse.py) and stopped with the module."""
    server = ModuleForkServer()
    yield server
    server.close()


@pytest.fixture
def forked_run_workers(
    request: pytest.FixtureRequest,
    module_fork_server: ModuleForkServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Runs started without a worker (`RunService`, the CLI's commands, walk-forward folds)
    fork it from the module's fork server, unless the test is marked `fresh_worker`.

    A test that sets `start_worker` itself (a stand-in or a counting worker) still wins: its
    monkeypatch comes after this one."""
    if request.node.get_closest_marker(FRESH_WORKER_MARK) is not None:
        return
    import app.research.walkforward  # imported here: most tests never load the research stack
    import app.runs.service

    fork_runs_from(module_fork_server, monkeypatch, app.runs.service, app.research.walkforward)
