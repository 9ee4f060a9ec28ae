"""`self.trades`, `self.orders` and the position's entry inside the sandbox: readable, and no
path from them to the engine's lists or to a way of changing a record."""

from __future__ import annotations

import textwrap

import pytest

from app.engine import (
    Bar,
    MarketData,
    OrderHistory,
    OrderRecord,
    RunConfig,
    Strategy,
    StrategyRuntimeError,
    Trade,
    TradeHistory,
    run_backtest,
)
from sandbox import SandboxViolation
from sandbox.api_surface import ENGINE_API
from sandbox.compile import compile_strategy
from sandbox.guards import make_getattr


def run_source(body: str, market: MarketData) -> list[str]:
    """Run a strategy class body in the sandbox; its log lines."""
    source = "class Probe(Strategy):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    compiled = compile_strategy(source, "probe.py")
    result = run_backtest(compiled.strategy_class, market, RunConfig())
    return [line.message for line in result.logs]


TRADING = """
def on_data(self, bar):
    if bar.index % 10 == 0:
        self.close_position()
        self.buy(0.01)
"""


def test_a_strategy_reads_its_closed_trades_and_orders(market: MarketData) -> None:
    lines = run_source(
        TRADING
        + """
    if bar.index == 55:
        last = self.trades[-1]
        self.log("trades", len(self.trades), last.exit_reason.value, last.pnl == last.pnl)
        self.log("orders", len(self.orders), self.orders[0].status.value, len(self.trades[-2:]))
        self.log("entry", self.position.entry_bar, self.position.entry_time == bar.time)
        self.log("sum", len([t for t in self.trades if t.size > 0]))
""",
        market,
    )
    assert "trades 5 signal True" in lines  # closed at bars 11, 21, 31, 41, 51
    assert "orders 11 filled 2" in lines  # the first buy, then a close and a buy each 10 bars
    assert "entry 51 False" in lines  # opened at bar 51's open; bar 55 is later
    assert "sum 5" in lines


@pytest.mark.parametrize(
    "probe",
    [
        pytest.param("self.trades.append(None)", id="trades-append"),
        pytest.param("self.orders.clear()", id="orders-clear"),
        pytest.param("self.trades[0].count", id="trade-tuple-method"),
        pytest.param("self.orders[0].index", id="order-tuple-method"),
    ],
)
def test_the_views_have_no_method_to_reach_or_change_anything(
    probe: str, market: MarketData
) -> None:
    body = TRADING + f"    if bar.index == 25:\n        {probe}\n"
    with pytest.raises(StrategyRuntimeError, match=r"has no attribute '"):
        run_source(body, market)


def test_a_record_cannot_be_changed(market: MarketData) -> None:
    body = TRADING + "    if bar.index == 25:\n        t = self.trades[0]\n        t.pnl = 1e9\n"
    with pytest.raises(StrategyRuntimeError, match="cannot be changed"):
        run_source(body, market)


def test_private_names_of_the_views_are_refused_before_the_run() -> None:
    from sandbox.validate import validate_source

    source = "class P(Strategy):\n    def on_data(self, bar):\n        self.trades._trades\n"
    assert validate_source(source)  # at least one diagnostic: names starting with "_"


def test_each_view_and_record_type_has_an_allow_list(market: MarketData) -> None:
    found: dict[str, object] = {}

    class Collector(Strategy):
        def on_data(self, bar: Bar) -> None:
            if bar.index == 2:
                self.buy(0.01)
            if bar.index == 5:
                self.close_position()
            if bar.index == 8:
                found.update(trades=self.trades, orders=self.orders)
                found.update(trade=self.trades[0], order=self.orders[0])

    run_backtest(Collector, market, RunConfig())
    assert {type(value) for value in found.values()} == {
        TradeHistory,
        OrderHistory,
        Trade,
        OrderRecord,
    }
    guarded_getattr, _ = make_getattr(lambda obj: False)
    for value in found.values():
        allowed = ENGINE_API[type(value)]
        for name in allowed:
            guarded_getattr(value, name)
        for name in ("_trades", "_finished", "_working", "append", "count", "index", "record"):
            if name not in allowed:
                with pytest.raises((SandboxViolation, AttributeError), match="no attribute"):
                    guarded_getattr(value, name)
