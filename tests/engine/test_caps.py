"""Per-run caps on orders and trades: the run stops at the first record past them, every time.

The amplification attack placed and cancelled ~1.75 M orders; each had to cross to the parent
and into the database. The engine counts orders as their ids are issued and trades as they are
recorded, and stops the run with RecordLimitExceeded naming the cap.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import (
    ConfigError,
    Progress,
    RecordLimitExceeded,
    RunConfig,
    Strategy,
    StrategyRuntimeError,
    run_backtest,
)
from app.engine.caps import RecordCounter
from tests.conftest import build_market

MARKET = build_market([100 + 5 * np.sin(i / 7) for i in range(400)])


class PlaceAndCancel(Strategy):
    """Ten far limit orders per bar, each cancelled at once: orders without trades."""

    def on_data(self, bar: object) -> None:
        close = float(getattr(bar, "close", 100.0))
        for _ in range(10):
            ticket = self.buy(0.001, limit=close * 0.5)
            if ticket is not None:
                self.cancel(ticket)


class CatchesEverything(Strategy):
    """Places orders inside `try/except Exception` and carries on whatever happens."""

    def on_data(self, bar: object) -> None:
        close = float(getattr(bar, "close", 100.0))
        for _ in range(10):
            try:
                self.buy(0.001, limit=close * 0.5)
            except Exception:
                continue


class Flipper(Strategy):
    """Reverses its position every bar: a trade per bar."""

    def on_data(self, bar: object) -> None:
        index = int(getattr(bar, "index", 0))
        self.close_position()
        if index % 2:
            self.buy(0.01)
        else:
            self.sell(0.01)


def _stop(strategy: type[Strategy], config: RunConfig) -> tuple[RecordLimitExceeded, int]:
    """The error the run stopped with and how many bars its last progress report had."""
    reports: list[Progress] = []
    with pytest.raises(RecordLimitExceeded) as caught:
        run_backtest(strategy, MARKET, config, on_progress=reports.append, progress_every=10)
    return caught.value, reports[-1].bars_done if reports else 0


@pytest.mark.parametrize("cap", [1, 7, 1_000])
def test_cant_place_more_orders_than_the_cap(cap: int) -> None:
    error, _ = _stop(PlaceAndCancel, RunConfig(max_orders=cap))
    assert str(error) == f"limit exceeded: more than {cap} orders"
    assert (error.record, error.limit) == ("orders", cap)
    assert not isinstance(error, StrategyRuntimeError)  # the run's cap, not the user's error


def test_cant_get_past_the_order_cap_by_catching_its_error() -> None:
    error, bars_done = _stop(CatchesEverything, RunConfig(max_orders=55))
    assert str(error) == "limit exceeded: more than 55 orders"
    assert bars_done <= 10  # stopped at the first progress report after the excess


def test_cant_get_past_the_order_cap_by_catching_it_without_progress_reports() -> None:
    with pytest.raises(RecordLimitExceeded, match="more than 55 orders"):
        run_backtest(CatchesEverything, MARKET, RunConfig(max_orders=55))


@pytest.mark.parametrize("cap", [1, 20, 150])
def test_cant_make_more_trades_than_the_cap(cap: int) -> None:
    error, _ = _stop(Flipper, RunConfig(max_trades=cap))
    assert str(error) == f"limit exceeded: more than {cap} trades"
    assert (error.record, error.limit) == ("trades", cap)


@pytest.mark.parametrize(
    ("strategy", "config"),
    [
        (PlaceAndCancel, RunConfig(max_orders=333)),
        (CatchesEverything, RunConfig(max_orders=333)),
        (Flipper, RunConfig(max_trades=77)),
    ],
    ids=["orders", "orders_caught", "trades"],
)
def test_a_capped_run_stops_at_the_same_place_on_every_rerun(
    strategy: type[Strategy], config: RunConfig
) -> None:
    first = _stop(strategy, config)
    again = _stop(strategy, config)
    assert (str(first[0]), first[1]) == (str(again[0]), again[1])


def test_a_run_exactly_at_its_caps_completes() -> None:
    orders = len(run_backtest(PlaceAndCancel, MARKET, RunConfig()).orders)
    trades = len(run_backtest(Flipper, MARKET, RunConfig()).trades)
    assert len(run_backtest(PlaceAndCancel, MARKET, RunConfig(max_orders=orders)).orders) == orders
    assert len(run_backtest(Flipper, MARKET, RunConfig(max_trades=trades)).trades) == trades


@pytest.mark.parametrize("field", ["max_orders", "max_trades"])
@pytest.mark.parametrize("value", [0, -5, 2.5])
def test_a_cap_must_be_a_positive_whole_number(field: str, value: float) -> None:
    with pytest.raises(ConfigError, match=field):
        RunConfig(**{field: value})  # type: ignore[arg-type]


def test_the_counter_keeps_its_first_excess() -> None:
    counter = RecordCounter(max_orders=2, max_trades=3)
    counter.count_order(2)
    counter.count_trades(3)
    counter.raise_if_exceeded()  # at the caps, nothing to raise
    with pytest.raises(RecordLimitExceeded, match="more than 2 orders"):
        counter.count_order(3)
    with pytest.raises(RecordLimitExceeded, match="more than 3 trades"):
        counter.count_trades(4)
    with pytest.raises(RecordLimitExceeded, match="more than 2 orders"):
        counter.raise_if_exceeded()
