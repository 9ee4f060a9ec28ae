"""Skipping quiet bars changes nothing: the broker's schedule against checking every bar."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine import RunResult, run_backtest
from app.engine.bar_ranges import BLOCK, BlockRanges
from app.engine.broker import Broker

from .randomized import RandomTrader
from .test_properties import PROPERTY_SETTINGS, Scenario, scenarios


def every_bar_schedule(broker: Broker, index: int) -> None:
    """The schedule before blocks: every bar is looked at (`step` decides if it needs work)."""
    broker.next_work = index


def run_both(scenario: Scenario, monkeypatch: pytest.MonkeyPatch) -> tuple[RunResult, RunResult]:
    market = scenario.market()
    scheduled = run_backtest(RandomTrader, market, scenario.config())
    with monkeypatch.context() as patch:
        patch.setattr(Broker, "_schedule", every_bar_schedule)
        checked = run_backtest(RandomTrader, market, scenario.config())
    return scheduled, checked


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(BLOCK, 12 * BLOCK))
def test_the_schedule_gives_the_same_run_as_checking_every_bar(
    scenario: Scenario, bars: int
) -> None:
    scenario = dataclasses.replace(scenario, bars=bars)
    with pytest.MonkeyPatch.context() as monkeypatch:
        scheduled, checked = run_both(scenario, monkeypatch)
    assert scheduled.trades == checked.trades
    assert scheduled.orders == checked.orders
    assert scheduled.logs == checked.logs
    for field in dataclasses.fields(scheduled.equity):
        np.testing.assert_array_equal(
            getattr(scheduled.equity, field.name), getattr(checked.equity, field.name)
        )


@given(
    st.lists(st.floats(1.0, 100.0), min_size=1, max_size=5 * BLOCK),
    st.data(),
)
def test_first_reaching_skips_only_bars_that_cannot_reach_a_level(
    lows: list[float], data: st.DataObject
) -> None:
    low = np.array(lows)
    high = low + 1.0
    ranges = BlockRanges(low, high)
    index = data.draw(st.integers(0, len(low) - 1))
    stop = data.draw(st.integers(index, len(low)))
    lower = data.draw(st.floats(-1.0, 101.0) | st.just(-np.inf))
    upper = data.draw(st.floats(0.0, 102.0) | st.just(np.inf))
    found = ranges.first_reaching(index, lower, upper, stop)
    assert index <= found <= stop
    skipped = slice(index, found)
    assert not np.any(low[skipped] <= lower) and not np.any(high[skipped] >= upper)
    reaching = np.flatnonzero((low <= lower) | (high >= upper))
    first = int(reaching[reaching >= index][0]) if np.any(reaching >= index) else len(low)
    # Exact to the block: what is found lies in the first reaching bar's block or before it,
    # unless the look-ahead bound or `stop` came first.
    assert found <= first
