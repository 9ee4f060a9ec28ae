"""Worked examples: where orders fill inside the next bar, and the fee each fill pays."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine import OrderStatus

from .scripted import Action, MarketBuilder, OhlcRow, order, run_script

FLAT: OhlcRow = (100.0, 100.0, 100.0, 100.0)


def buy(**kwargs: Any) -> Action:
    return lambda s: s.buy(1.0, **kwargs)


def sell(**kwargs: Any) -> Action:
    return lambda s: s.sell(1.0, **kwargs)


# Each row: an order placed at the close of a flat bar at 100, the next bar, and where the
# order fills in it (None: never).
FILL_CASES = [
    # market buy at the open + 10 bps: 100 x 1.001 = 100.1
    pytest.param(buy(), (100, 105, 95, 102), 10.0, 100.1, id="market-buy-open-plus-slippage"),
    # market sell at the open - 10 bps: 100 x 0.999 = 99.9
    pytest.param(sell(), (100, 105, 95, 102), 10.0, 99.9, id="market-sell-open-minus-slippage"),
    # 50 bps would be 100.5, above the bar's high 100.2: kept at the high
    pytest.param(buy(), (100, 100.2, 99, 100), 50.0, 100.2, id="market-slippage-capped-at-high"),
    # 50 bps would be 99.5, below the bar's low 99.8: kept at the low
    pytest.param(sell(), (100, 101, 99.8, 100), 50.0, 99.8, id="market-slippage-capped-at-low"),
    # buy limit 98, low 97 reaches it: 98 (a maker fill takes no slippage)
    pytest.param(buy(limit=98), (100, 101, 97, 99), 10.0, 98.0, id="buy-limit-touched"),
    # buy limit 97, low exactly 97: a touch fills
    pytest.param(buy(limit=97), (100, 101, 97, 99), 0.0, 97.0, id="buy-limit-at-the-low"),
    # buy limit 98, low 98.5: never reached
    pytest.param(buy(limit=98), (100, 101, 98.5, 99), 0.0, None, id="buy-limit-not-reached"),
    # buy limit 98, bar opens at 96 below it: fills at the better open 96
    pytest.param(buy(limit=98), (96, 97, 95, 96.5), 0.0, 96.0, id="buy-limit-gap-at-open"),
    # sell limit 103, high 104: 103
    pytest.param(sell(limit=103), (100, 104, 99, 101), 0.0, 103.0, id="sell-limit-touched"),
    # sell limit 103, bar opens at 105: fills at the open 105
    pytest.param(sell(limit=103), (105, 106, 104, 105), 0.0, 105.0, id="sell-limit-gap-at-open"),
    # buy stop 103, high 104: triggered at 103
    pytest.param(buy(stop=103), (100, 104, 99, 103), 0.0, 103.0, id="buy-stop-triggered"),
    # buy stop 103 + 10 bps taker slippage: 103 x 1.001 = 103.103
    pytest.param(buy(stop=103), (100, 104, 99, 103), 10.0, 103.103, id="buy-stop-slippage"),
    # buy stop 103, high 102.9: not triggered
    pytest.param(buy(stop=103), (100, 102.9, 99, 102), 0.0, None, id="buy-stop-not-triggered"),
    # buy stop 103, bar opens at 105 above it: at the open 105
    pytest.param(buy(stop=103), (105, 106, 104, 105), 0.0, 105.0, id="buy-stop-gap-at-open"),
    # sell stop 97, low 96: 97
    pytest.param(sell(stop=97), (100, 101, 96, 98), 0.0, 97.0, id="sell-stop-triggered"),
    # sell stop 97, opens at 95: at the open 95
    pytest.param(sell(stop=97), (95, 96, 94, 95), 0.0, 95.0, id="sell-stop-gap-at-open"),
    # sell stop 97 gaps to 95, 100 bps would be 94.05, below the low 94.5: kept at 94.5
    pytest.param(sell(stop=97), (95, 96, 94.5, 95), 100.0, 94.5, id="sell-stop-gap-slip-capped"),
]


@pytest.mark.parametrize(("action", "next_bar", "slippage_bps", "expected"), FILL_CASES)
def test_order_fills_in_the_next_bar_at_the_worked_price(
    make_market: MarketBuilder,
    action: Action,
    next_bar: OhlcRow,
    slippage_bps: float,
    expected: float | None,
) -> None:
    market = make_market([FLAT, next_bar, next_bar])
    result, _ = run_script(market, {0: action}, slippage_bps=slippage_bps)
    placed = order(result, 1)
    if expected is None:
        assert placed.status is OrderStatus.EXPIRED
        assert placed.filled_price is None
        assert result.trades == ()
        return
    assert placed.status is OrderStatus.FILLED
    assert placed.filled_time == int(market.time[1])
    assert placed.filled_price is not None
    assert placed.filled_price == pytest.approx(expected, abs=1e-9)
    assert next_bar[2] <= placed.filled_price <= next_bar[1]


def test_order_placed_at_a_bar_never_fills_in_that_same_bar(make_market: MarketBuilder) -> None:
    # The limit 99 is inside bar 0's range (98..101) but the order exists only after bar 0.
    market = make_market([(100, 101, 98, 100), (100, 100.5, 99.5, 100), (100, 100, 99, 99)])
    result, _ = run_script(market, {0: buy(limit=99)})
    assert order(result, 1).filled_time == int(market.time[2])


# Fees are notional x rate: maker 0.02 % for limit orders and take-profit exits, taker 0.05 %
# for market and stop orders, stop-loss exits and the end-of-data close.
FEE_CASES = [
    # market buy 2 @ 100: 200 x 0.0005 = 0.10
    pytest.param(lambda s: s.buy(2.0), 0.10, id="market-taker"),
    # limit buy 2 @ 98: 196 x 0.0002 = 0.0392
    pytest.param(lambda s: s.buy(2.0, limit=98), 0.0392, id="limit-maker"),
    # stop buy 2 @ 103: 206 x 0.0005 = 0.103
    pytest.param(lambda s: s.buy(2.0, stop=103), 0.103, id="stop-taker"),
    # market sell (short) 2 @ 100: 0.10
    pytest.param(lambda s: s.sell(2.0), 0.10, id="market-short-taker"),
]


@pytest.mark.parametrize(("action", "fee"), FEE_CASES)
def test_entry_pays_maker_or_taker_fee_on_notional(
    make_market: MarketBuilder, action: Action, fee: float
) -> None:
    market = make_market([FLAT, (100, 104, 97, 100), FLAT])
    result, _ = run_script(market, {0: action}, fee_maker=0.0002, fee_taker=0.0005)
    assert order(result, 1).fee == pytest.approx(fee)
    # The end-of-data close at 100 pays the taker rate: 200 x 0.0005 = 0.10.
    (trade,) = result.trades
    assert trade.fees == pytest.approx(fee + 0.10)
    assert result.metrics["fees_paid"] == pytest.approx(fee + 0.10)


@pytest.mark.parametrize(
    ("exit_bar", "reason", "exit_fee"),
    [
        # take-profit 110 reached: maker, 110 x 0.0002 = 0.022
        pytest.param((100, 111, 99, 105), "take_profit", 0.022, id="take-profit-maker"),
        # stop-loss 95 reached: taker, 95 x 0.0005 = 0.0475
        pytest.param((100, 101, 94, 96), "stop_loss", 0.0475, id="stop-loss-taker"),
    ],
)
def test_protective_exits_pay_maker_for_take_profit_and_taker_for_stop_loss(
    make_market: MarketBuilder, exit_bar: OhlcRow, reason: str, exit_fee: float
) -> None:
    # Long 1 from the market at 100 (taker 0.05); the exit is checked from bar 2.
    market = make_market([FLAT, FLAT, exit_bar, FLAT])
    enter: Action = lambda s: s.buy(1.0, stop_loss=95, take_profit=110)  # noqa: E731
    result, _ = run_script(market, {0: enter}, fee_maker=0.0002, fee_taker=0.0005)
    (trade,) = result.trades
    assert trade.exit_reason.value == reason
    assert trade.fees == pytest.approx(0.05 + exit_fee)
    assert result.orders[-1].fee == pytest.approx(exit_fee)
