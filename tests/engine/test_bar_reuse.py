"""The `bar` handed to on_data: the loop reuses one Bar object from bar to bar only while
nothing but the loop holds it, so a Bar a strategy keeps (in a list, an attribute, a closure)
keeps its own bar's values, and every bar read in on_data is that bar's (app/engine/loop.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app.engine import Bar, MarketData, RunConfig, Strategy, run_backtest
from app.engine.feed import ns_to_datetime
from sandbox import compile_strategy
from tests.conftest import MarketBuilder

CONFIG = RunConfig(cash=10_000.0, fee_maker=0.0, fee_taker=0.0, funding_rate=0.0)
FIELDS = ("open", "high", "low", "close", "volume")


def distinct_market(make_market: MarketBuilder, bars: int = 60) -> MarketData:
    """Bars whose every field differs from every other bar's, so a stale value shows."""
    rows = [(100.0 + i, 102.0 + i, 99.0 + i, 101.0 + i * 1.5) for i in range(bars)]
    return make_market(rows)


def expected(market: MarketData, index: int) -> tuple[object, ...]:
    values = tuple(float(getattr(market, name)[index]) for name in FIELDS)
    return (index, ns_to_datetime(int(market.time[index])), *values)


def seen(bar: Bar) -> tuple[object, ...]:
    return (bar.index, bar.time, *(getattr(bar, name) for name in FIELDS))


def test_a_bar_read_on_its_bar_is_that_bar(make_market: MarketBuilder) -> None:
    market = distinct_market(make_market)
    reads: list[tuple[object, ...]] = []

    class Reader(Strategy):
        def on_data(self, bar: Bar) -> None:
            reads.append(seen(bar))  # read, not kept: the loop may reuse the object

    run_backtest(Reader, market, CONFIG)
    assert reads == [expected(market, index) for index in range(len(market))]


@pytest.mark.parametrize("every", [1, 2, 7])
def test_kept_bars_keep_their_values(make_market: MarketBuilder, every: int) -> None:
    market = distinct_market(make_market)
    kept: list[Bar] = []
    reads: list[tuple[object, ...]] = []

    class Keeper(Strategy):
        def on_data(self, bar: Bar) -> None:
            reads.append(seen(bar))
            if bar.index % every == 0:
                kept.append(bar)

    run_backtest(Keeper, market, CONFIG)
    assert reads == [expected(market, index) for index in range(len(market))]
    assert [seen(bar) for bar in kept] == [
        expected(market, index) for index in range(0, len(market), every)
    ]
    assert len({id(bar) for bar in kept}) == len(kept)


def test_a_bar_kept_as_an_attribute_or_in_a_closure_stays(make_market: MarketBuilder) -> None:
    market = distinct_market(make_market)
    checks: list[bool] = []

    class Holder(Strategy):
        def initialize(self) -> None:
            self.previous: Bar | None = None
            self.later: Callable[[], tuple[object, ...]] | None = None

        def on_data(self, bar: Bar) -> None:
            if self.previous is not None and self.later is not None:
                checks.append(seen(self.previous) == expected(market, bar.index - 1))
                checks.append(self.later() == expected(market, bar.index - 1))
            self.previous = bar

            def later() -> tuple[object, ...]:
                return seen(bar)  # the closure holds this bar

            self.later = later

    run_backtest(Holder, market, CONFIG)
    assert checks and all(checks)


def test_sandboxed_strategy_keeping_bars(make_market: MarketBuilder) -> None:
    """The guarded (compiled) path: a list of kept bars and the closes read on each bar,
    printed to the log on the last bar."""
    market = distinct_market(make_market)
    last = len(market) - 1
    source = f"""
class Keep(Strategy):
    def initialize(self):
        self.kept = []
        self.closes = []

    def on_data(self, bar):
        self.closes.append(bar.close)
        if bar.index % 3 == 0:
            self.kept.append(bar)
        if bar.index == {last}:
            self.log(self.closes)
            self.log([(b.index, b.open, b.close) for b in self.kept])
"""
    strategy = compile_strategy(source).strategy_class
    result = run_backtest(strategy, market, CONFIG)
    closes, kept = (line.message for line in result.logs[-2:])
    assert closes == str(market.close.tolist())
    assert kept == str(
        [(i, float(market.open[i]), float(market.close[i])) for i in range(0, len(market), 3)]
    )
