"""Accounting invariants over random markets and random order sequences (hypothesis)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import (
    ExitReason,
    MarketData,
    Mode,
    OrderStatus,
    RunConfig,
    RunResult,
    run_backtest,
)

from .randomized import LEVERAGES, AccountSeen, RandomTrader, cut, random_market, trader_class

PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Scenario:
    market_seed: int
    bars: int
    gap_chance: float
    trader_seed: int
    mode: Mode
    leverage: float
    fee_taker: float
    slippage_bps: float
    funding_rate: float
    resting_orders: bool = True

    def market(self) -> MarketData:
        return random_market(self.market_seed, self.bars, gap_chance=self.gap_chance)

    def config(self) -> RunConfig:
        return RunConfig(
            mode=self.mode,
            cash=10_000.0,
            fee_maker=self.fee_taker / 2,
            fee_taker=self.fee_taker,
            slippage_bps=self.slippage_bps,
            funding_rate=self.funding_rate,
            params=(
                ("seed", self.trader_seed),
                ("leverage", self.leverage),
                ("activity", 0.4),
                ("resting_orders", self.resting_orders),
            ),
        )


@st.composite
def scenarios(draw: st.DrawFn, *, funding: bool = True, resting_orders: bool = True) -> Scenario:
    mode = draw(st.sampled_from((Mode.FUTURES, Mode.FUTURES, Mode.SPOT)))
    return Scenario(
        market_seed=draw(st.integers(0, 2**32 - 1)),
        bars=draw(st.integers(20, 160)),
        gap_chance=draw(st.sampled_from((0.0, 0.1, 0.5))),
        trader_seed=draw(st.integers(0, 2**32 - 1)),
        mode=mode,
        leverage=1.0 if mode is Mode.SPOT else draw(st.sampled_from(LEVERAGES)),
        fee_taker=draw(st.sampled_from((0.0, 0.0005, 0.002))),
        slippage_bps=draw(st.sampled_from((0.0, 5.0, 50.0))),
        funding_rate=draw(st.sampled_from((0.0, 0.0001, -0.0003, 0.003))) if funding else 0.0,
        resting_orders=resting_orders,
    )


def run(
    scenario: Scenario,
    market: MarketData | None = None,
    strategy: type[RandomTrader] = RandomTrader,
) -> RunResult:
    return run_backtest(strategy, market or scenario.market(), scenario.config())


@PROPERTY_SETTINGS
@given(scenarios())
def test_equity_is_cash_plus_margin_plus_unrealized_at_every_bar(scenario: Scenario) -> None:
    seen = AccountSeen()
    result = run(scenario, strategy=trader_class(seen))
    curve = result.equity
    # What the strategy was told after each bar is what the curve records for that bar
    # (the last bar's end-of-data close comes after on_data, so compare up to the one before).
    last = len(curve.equity) - 1
    np.testing.assert_allclose(curve.cash[:last], seen.cash[:last], rtol=0, atol=1e-9)
    np.testing.assert_allclose(curve.margin[:last], seen.margin[:last], rtol=0, atol=1e-9)
    np.testing.assert_allclose(curve.unrealized[:last], seen.unrealized[:last], atol=1e-6)
    np.testing.assert_allclose(curve.equity[:last], seen.equity[:last], rtol=1e-12, atol=1e-6)
    np.testing.assert_array_equal(curve.position[:last], seen.size[:last])
    np.testing.assert_allclose(
        curve.equity, curve.cash + curve.margin + curve.unrealized, rtol=1e-12
    )
    # Conservation: flat at the end, equity = cash0 + net trade pnl - net funding paid.
    assert curve.position[-1] == 0.0 and curve.margin[-1] == 0.0
    pnl = sum(trade.pnl for trade in result.trades)
    expected = 10_000.0 + pnl - float(result.metrics["funding_paid"] or 0.0)
    assert curve.equity[-1] == pytest.approx(expected, rel=1e-9, abs=1e-6)


@PROPERTY_SETTINGS
@given(scenarios(funding=False))
def test_isolated_loss_is_capped_at_the_positions_margin_plus_fees(scenario: Scenario) -> None:
    result = run(scenario)
    slip = scenario.slippage_bps / 10_000
    allowance = 0.0
    for trade in result.trades:
        # The trader uses one leverage per run, so a slice's margin is its notional / leverage.
        margin = trade.size * trade.entry_price / scenario.leverage
        # A taker exit may slip past the bankruptcy price by its slippage (the trader's own
        # fill walking the book, not a liquidation).
        slipped = trade.size * trade.exit_price * slip / (1 - slip)
        allowance += slipped
        assert -trade.pnl <= margin + trade.fees + slipped + 1e-9 * margin, trade
        if trade.exit_reason is ExitReason.LIQUIDATION:
            side = 1 if trade.side.value == "long" else -1
            left = max(margin + side * trade.size * (trade.exit_price - trade.entry_price), 0.0)
            entry_fees = trade.fees - left  # the rest of `fees` is the clearance fee
            assert trade.pnl == pytest.approx(-margin - entry_fees, rel=1e-9, abs=1e-9)
    # Isolated losses never take the marked account below zero (but for slippage).
    assert float(np.min(result.equity.equity)) >= -allowance - 1e-9


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_fill_is_inside_its_bars_range(scenario: Scenario) -> None:
    market = scenario.market()
    result = run(scenario, market)
    bar_of = {int(time): index for index, time in enumerate(market.time)}
    for record in result.orders:
        if record.status is not OrderStatus.FILLED:
            assert record.filled_price is None or record.filled_amount > 0
            continue
        assert record.filled_time is not None and record.filled_price is not None, record
        index = bar_of[record.filled_time]
        low, high = float(market.low[index]), float(market.high[index])
        if record.reason == ExitReason.LIQUIDATION.value and not low <= record.filled_price <= high:
            # A liquidation is booked at the liquidation price (the margin is what is lost);
            # that price is outside the bar only when the open had already gone through it.
            opened = float(market.open[index])
            side = 1 if record.side.value == "sell" else -1  # the position's side
            assert (opened - record.filled_price) * side <= 0, record
            continue
        assert low - 1e-9 <= record.filled_price <= high + 1e-9, (record, low, high)


@PROPERTY_SETTINGS
@given(scenarios(), st.floats(0.2, 0.95))
def test_cutting_future_bars_never_changes_the_past(scenario: Scenario, share: float) -> None:
    market = scenario.market()
    bars = max(3, int(len(market) * share))
    whole, short = run(scenario, market), run(scenario, cut(market, bars))
    # Everything decided before the short run's last bar (where its end-of-data close happens)
    # is identical; on the last bar itself the logs (written by on_data) still agree.
    assert [t for t in whole.trades if t.exit_index < bars - 1] == [
        t for t in short.trades if t.exit_index < bars - 1
    ]
    assert whole.equity.equity[: bars - 1].tobytes() == short.equity.equity[: bars - 1].tobytes()
    # A warm-up that the cut data never ends is told at its last bar, like its end-of-data
    # close: the one line the whole run cannot have there.
    never_ended = [line for line in short.logs if line.message.startswith("warm-up never ends")]
    assert all(line.bar_index == bars - 1 for line in never_ended)
    assert [line for line in whole.logs if line.bar_index <= bars - 1] == [
        line for line in short.logs if line not in never_ended
    ]
    decided = [
        o
        for o in whole.orders
        if o.filled_time is not None and o.filled_time < int(market.time[bars - 1])
    ]
    assert decided == [
        o
        for o in short.orders
        if o.filled_time is not None and o.filled_time < int(market.time[bars - 1])
    ]


@PROPERTY_SETTINGS
@given(scenarios())
def test_same_inputs_give_byte_identical_results(scenario: Scenario) -> None:
    first, second = run(scenario), run(scenario)
    assert repr(first.trades) == repr(second.trades)
    assert repr(first.orders) == repr(second.orders)
    assert repr(first.logs) == repr(second.logs)
    assert repr(first.metrics) == repr(second.metrics)
    for name in ("time", "cash", "margin", "unrealized", "equity", "position"):
        assert getattr(first.equity, name).tobytes() == getattr(second.equity, name).tobytes()
