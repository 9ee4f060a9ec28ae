"""Several symbols in one account: one cash balance, a position and an isolated margin per
symbol, each symbol's own funding, a shared timeline, and the symbol on orders and trades.

Worked examples use the default tiers (0.4 % maintenance below 50,000 notional, cum 0), no
fees and no slippage. Isolated long liquidation price (app.engine.margin, Binance):
LP = (Q x EP - M) / (Q x (1 - MMR)).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from app.engine import (
    Bar,
    ExitReason,
    MarketData,
    MarketDataError,
    Mode,
    OrderStatus,
    RunConfig,
    SeriesView,
    Strategy,
    StrategyRuntimeError,
    align_symbols,
    run_backtest,
)
from tests.engine.scripted import QUIET, run_script

OhlcRow = tuple[float, float, float, float]


def market(
    symbol: str,
    rows: list[float | OhlcRow],
    *,
    start: str = "2024-01-01",
    freq: str = "1h",
    funding: pd.Series | None = None,
    skip: tuple[int, ...] = (),
) -> MarketData:
    """`symbol`'s bars from closes (flat bars) or (o, h, l, c) rows; `skip` leaves bars out."""
    ohlc = np.array([r if isinstance(r, tuple) else (r, r, r, r) for r in rows], dtype=float)
    index = pd.date_range(start, periods=len(ohlc), freq=freq, tz="UTC", name="time")
    frame = pd.DataFrame(ohlc, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = 1.0
    frame = frame.drop(index[list(skip)])
    return MarketData.from_frame(frame, symbol=symbol, funding=funding)


def two(btc: MarketData, eth: MarketData, **options: Any) -> MarketData:
    return align_symbols([btc, eth], **options)


FUTURES: dict[str, Any] = {"mode": Mode.FUTURES, "leverage_max": 20, **QUIET}


# -- isolated margins from one cash balance ------------------------------------------------


def test_one_symbol_liquidated_the_other_not_cash_shared() -> None:
    # BTC: 1 unit long at 100, 10x -> margin 10, LP = (100 - 10) / 0.996 = 90.3614...
    # ETH: 10 units long at 50, 2x -> margin 250, LP = (500 - 250) / (10 x 0.996) = 25.10...
    # Bar 2 BTC's low 85 reaches its LP: BTC's margin (10) is lost; ETH is untouched and is
    # closed at the end at 55: +50. Cash 10,000 - 10 - 250 = 9,740 while both are open;
    # equity at the end 10,000 - 10 + 50 = 10,040.
    btc = market("BTCUSDT", [100, 100, (100, 100, 85, 95), 95, 95])
    eth = market("ETHUSDT", [50, 50, 50, 55, 55])
    result, seen = run_script(
        two(btc, eth),
        {
            0: [
                lambda s: s.buy(1.0, leverage=10),
                lambda s: s.buy(10.0, leverage=2, symbol="ETHUSDT"),
            ],
        },
        **FUTURES,
    )
    assert seen.cash[1] == pytest.approx(9_740.0)
    btc_trade, eth_trade = result.trades
    assert btc_trade.symbol == "BTCUSDT"
    assert btc_trade.exit_reason is ExitReason.LIQUIDATION
    assert btc_trade.exit_price == pytest.approx(90.0 / 0.996)
    assert btc_trade.pnl == pytest.approx(-10.0)
    assert eth_trade.symbol == "ETHUSDT"
    assert eth_trade.exit_reason is ExitReason.END_OF_DATA
    assert eth_trade.pnl == pytest.approx(50.0)
    assert result.equity.equity[-1] == pytest.approx(10_040.0)
    assert seen.equity[2] == pytest.approx(9_740.0 + 250.0)  # BTC gone, ETH at 50
    assert result.metrics["liquidations"] == 1
    btc_summary, eth_summary = result.symbols
    assert (btc_summary.symbol, btc_summary.liquidations) == ("BTCUSDT", 1)
    assert btc_summary.net_pnl == pytest.approx(-10.0)
    assert (eth_summary.symbol, eth_summary.trades) == ("ETHUSDT", 1)
    assert eth_summary.net_pnl == pytest.approx(50.0)


def test_the_cash_is_one_balance_for_every_symbol() -> None:
    # 1,000 cash: BTC 9 units at 100 (1x) takes 900; ETH's 10 units at 50 need 500, 100 left.
    btc = market("BTCUSDT", [100] * 4)
    eth = market("ETHUSDT", [50] * 4)
    result, _ = run_script(
        two(btc, eth),
        {0: [lambda s: s.buy(9.0), lambda s: s.buy(10.0, symbol="ETHUSDT")]},
        cash=1_000.0,
        **FUTURES,
    )
    btc_order, eth_order = [o for o in result.orders if o.created_index == 0]
    assert (btc_order.symbol, btc_order.status) == ("BTCUSDT", OrderStatus.FILLED)
    assert (eth_order.symbol, eth_order.status) == ("ETHUSDT", OrderStatus.REJECTED)
    assert "not enough cash" in eth_order.reason and "100.00 available" in eth_order.reason


def test_a_fraction_of_equity_is_of_the_whole_accounts_equity() -> None:
    # 10 BTC bought at 100 (1x) fill at bar 1's open: cash 9,000, margin 1,000. Bar 1 closes
    # BTC at 200: +1,000 unrealised, so the account's equity is 11,000. Half of it in ETH at
    # 50 (1x, no fees) is 110 units; the BTC broker's own equity (9,000 cash + nothing in
    # ETH) would have given 90.
    btc = market("BTCUSDT", [100, (100, 200, 100, 200), 200, 200])
    eth = market("ETHUSDT", [50] * 4)
    result, seen = run_script(
        two(btc, eth),
        {
            0: lambda s: s.buy(10.0),
            1: lambda s: s.buy(equity_fraction=0.5, symbol="ETHUSDT"),
        },
        **FUTURES,
    )
    assert seen.equity[1] == pytest.approx(11_000.0)
    (eth_order,) = [o for o in result.orders if o.symbol == "ETHUSDT" and o.created_index == 1]
    assert eth_order.status is OrderStatus.FILLED
    assert eth_order.amount == pytest.approx(110.0)


def test_equity_curve_marks_each_position_at_its_own_close() -> None:
    # long 1 BTC at 100 and short 2 ETH at 50 (1x): bar 2 BTC 110 (+10), ETH 45 (+10)
    btc = market("BTCUSDT", [100, 100, 110])
    eth = market("ETHUSDT", [50, 50, 45])
    result, seen = run_script(
        two(btc, eth),
        {0: [lambda s: s.buy(1.0), lambda s: s.sell(2.0, symbol="ETHUSDT")]},
        **FUTURES,
    )
    assert seen.equity[2] == pytest.approx(10_020.0)
    # the curve's last bar is after the end-of-data close: all cash
    assert result.equity.equity[-1] == pytest.approx(10_020.0)
    # held over bar 1 (filled at its open); closed at bar 2's close, so bar 2 ends flat
    assert result.metrics["exposure"] == pytest.approx(1 / 3)


def test_funding_is_settled_per_symbol_from_its_own_rates() -> None:
    # BTC pays 0.1 % at 02:00 on 1 x 100 = 0.10; ETH (short 10 at 50) gets 0.2 % paid by
    # longs? no: a rate of -0.2 % means shorts pay: 10 x 50 x 0.002 = 1.00, at 03:00.
    times = pd.date_range("2024-01-01", periods=5, freq="1h", tz="UTC")
    btc = market("BTCUSDT", [100] * 5, funding=pd.Series([0.001], index=[times[2]]))
    eth = market("ETHUSDT", [50] * 5, funding=pd.Series([-0.002], index=[times[3]]))
    result, _ = run_script(
        two(btc, eth),
        {0: [lambda s: s.buy(1.0), lambda s: s.sell(10.0, symbol="ETHUSDT")]},
        **FUTURES,
    )
    btc_summary, eth_summary = result.symbols
    assert btc_summary.funding_paid == pytest.approx(0.10)
    assert eth_summary.funding_paid == pytest.approx(1.00)
    assert result.metrics["funding_paid"] == pytest.approx(1.10)
    assert result.equity.equity[-1] == pytest.approx(10_000.0 - 1.10)


# -- views, indicators and the strategy API -------------------------------------------------


def test_each_symbols_view_ends_at_the_current_bar() -> None:
    btc = market("BTCUSDT", [100, 101, 102, 103])
    eth = market("ETHUSDT", [50, 51, 52, 53])
    seen: dict[int, tuple[Any, ...]] = {}

    class Reader(Strategy):
        warmup = 0

        eth_sma: SeriesView

        def initialize(self) -> None:
            view = self.indicator("sma", length=2, symbol="ETHUSDT")
            assert isinstance(view, SeriesView)
            self.eth_sma = view

        def on_data(self, bar: Bar) -> None:
            eth = self.data["ETHUSDT"]
            seen[bar.index] = (
                self.data.close[-1],
                eth.close[-1],
                len(eth.close),
                self.eth_sma[-1],
                self.data.symbols,
                self.data["BTCUSDT"] is self.data,
            )

    run_backtest(Reader, two(btc, eth), RunConfig(**FUTURES))
    assert seen[2][:3] == (102.0, 52.0, 3)
    assert seen[2][3] == pytest.approx(51.5)
    assert seen[2][4:] == (("BTCUSDT", "ETHUSDT"), True)

    class Peeker(Strategy):
        def on_data(self, bar: Bar) -> None:
            self.data["ETHUSDT"].close[bar.index + 1]

    with pytest.raises(StrategyRuntimeError, match="not available"):
        run_backtest(Peeker, two(btc, eth), RunConfig(**FUTURES))


def test_positions_by_symbol_and_sizes() -> None:
    btc = market("BTCUSDT", [100] * 4)
    eth = market("ETHUSDT", [50] * 4)
    seen: dict[int, Any] = {}

    class Holder(Strategy):
        def on_data(self, bar: Bar) -> None:
            if bar.index == 0:
                self.buy(1.0)
                self.sell(3.0, leverage=5, symbol="ETHUSDT")
            seen[bar.index] = (
                self.get_position_size(),
                self.get_position_size("ETHUSDT"),
                {s: p.side for s, p in self.positions.items()},
                self.positions["ETHUSDT"].margin,
                self.position.size,
            )
            if bar.index == 2:
                self.close_position(symbol="ETHUSDT")

    result = run_backtest(Holder, two(btc, eth), RunConfig(**FUTURES))
    assert seen[1] == (1.0, -3.0, {"BTCUSDT": "long", "ETHUSDT": "short"}, 30.0, 1.0)
    assert seen[3][:3] == (1.0, 0.0, {"BTCUSDT": "long", "ETHUSDT": "flat"})
    ids = [order.id for order in result.orders]
    assert ids == sorted(set(ids))  # one id sequence across the symbols
    assert {o.symbol for o in result.orders} == {"BTCUSDT", "ETHUSDT"}
    eth_close = next(o for o in result.orders if o.created_index == 2)
    assert (eth_close.symbol, eth_close.status, eth_close.filled_amount) == (
        "ETHUSDT",
        OrderStatus.FILLED,
        3.0,
    )


def test_an_unknown_symbol_is_one_sentence() -> None:
    btc = market("BTCUSDT", [100] * 3)
    eth = market("ETHUSDT", [50] * 3)

    class Typo(Strategy):
        def on_data(self, bar: Bar) -> None:
            self.buy(1.0, symbol="ETHUSD")

    with pytest.raises(
        StrategyRuntimeError,
        match="'ETHUSD' is not traded in this run; its symbols are BTCUSDT, ETHUSDT",
    ):
        run_backtest(Typo, two(btc, eth), RunConfig(**FUTURES))

    class DataTypo(Strategy):
        def on_data(self, bar: Bar) -> None:
            self.data["SOLUSDT"]

    with pytest.raises(StrategyRuntimeError, match="no data for symbol 'SOLUSDT'"):
        run_backtest(DataTypo, two(btc, eth), RunConfig(**FUTURES))


def test_one_symbol_runs_accept_their_own_symbol_name() -> None:
    btc = market("BTCUSDT", [100, 100, 110])
    result, _ = run_script(btc, {0: lambda s: s.buy(1.0, symbol="BTCUSDT")}, **FUTURES)
    assert result.trades[0].pnl == pytest.approx(10.0)
    assert result.symbols == ()


# -- the shared timeline --------------------------------------------------------------------


def test_a_bar_missing_for_one_symbol_is_refused_by_default() -> None:
    btc = market("BTCUSDT", [100] * 6)
    eth = market("ETHUSDT", [50] * 6, skip=(2, 4))
    with pytest.raises(MarketDataError) as caught:
        align_symbols([btc, eth])
    message = str(caught.value)
    assert "ETHUSDT has no bar at 2 of the 6 bar times" in message
    assert "2024-01-01T02:00:00Z, 2024-01-01T04:00:00Z" in message
    assert "missing_bars=common" in message


def test_common_bars_only_drops_and_counts_them() -> None:
    btc = market("BTCUSDT", [100, 101, 102, 103, 104, 105])
    eth = market("ETHUSDT", [50, 51, 52, 53, 54, 55], skip=(2,))
    aligned = align_symbols([btc, eth], missing_bars="common")
    assert len(aligned) == 5 and aligned.bars_dropped == 1
    assert aligned.close.tolist() == [100, 101, 103, 104, 105]
    assert aligned.other_symbols[0].close.tolist() == [50, 51, 53, 54, 55]
    result = run_backtest(_Idle, aligned, RunConfig(**FUTURES))
    assert result.metrics["bars_dropped"] == 1
    assert any("1 bar time(s) left out" in line.message for line in result.logs)


def test_different_bar_sizes_are_refused() -> None:
    btc = market("BTCUSDT", [100] * 6)
    eth = market("ETHUSDT", [50] * 6, freq="4h")
    with pytest.raises(MarketDataError, match="ETHUSDT has 4h bars and BTCUSDT 1h bars"):
        align_symbols([btc, eth])


def test_a_symbol_given_twice_is_refused() -> None:
    btc = market("BTCUSDT", [100] * 3)
    with pytest.raises(MarketDataError, match="BTCUSDT is given twice"):
        align_symbols([btc, replace(btc)])


def test_checkpoints_are_refused_for_several_symbols() -> None:
    aligned = two(market("BTCUSDT", [100] * 3), market("ETHUSDT", [50] * 3))
    with pytest.raises(Exception, match="several symbols cannot take or resume"):
        run_backtest(_Idle, aligned, RunConfig(checkpoint_every=1, **FUTURES))


class _Idle(Strategy):
    def on_data(self, bar: Bar) -> None:
        pass
