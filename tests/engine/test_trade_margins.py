"""Each trade carries the margin put up at entry for its slice (leverage and return on margin
derive from it); a filled close_position order records what it closed; a liquidation's order
carries the clearance fee. Worked examples with the arithmetic beside them."""

from __future__ import annotations

import pytest

from app.engine import ExitReason, Mode, OrderStatus

from .scripted import MarketBuilder, order, run_script

FLAT = (100.0, 100.0, 100.0, 100.0)


def test_a_3x_long_puts_up_a_third_of_its_notional(make_market: MarketBuilder) -> None:
    # buy 2 at bar 1's open of 100 with 3x: notional 200, margin 200 / 3
    market = make_market([FLAT, FLAT, FLAT, (100.0, 110.0, 100.0, 110.0), 110.0])
    result, _ = run_script(
        market, {0: lambda s: s.buy(2.0, leverage=3), 3: lambda s: s.close_position()}
    )
    (trade,) = result.trades
    assert trade.margin == pytest.approx(200.0 / 3)
    assert trade.size * trade.entry_price / trade.margin == pytest.approx(3.0)  # its leverage
    # exit at bar 4's open of 110: pnl 2 x 10 = 20, a return of 20 / 66.67 = 30 % on margin
    assert trade.pnl / trade.margin == pytest.approx(0.3)


def test_a_partial_close_takes_its_share_of_the_margin(make_market: MarketBuilder) -> None:
    market = make_market([FLAT] * 6)
    result, _ = run_script(
        market,
        {
            0: lambda s: s.buy(4.0, leverage=5),  # notional 400, margin 80
            2: lambda s: s.close_position(25),  # 1 of 4: margin 20
            3: lambda s: s.close_position(),  # the other 3: margin 60
        },
    )
    assert [t.size for t in result.trades] == [1.0, 3.0]
    assert [t.margin for t in result.trades] == pytest.approx([20.0, 60.0])


def test_funding_moves_the_margin_but_not_the_trades(make_market: MarketBuilder) -> None:
    # 1 % funding at every bar's funding time: the isolated margin shrinks, the margin put up
    # at entry (what leverage and return on margin are measured against) does not
    market = make_market([FLAT] * 30, freq="1h")
    result, _ = run_script(
        market,
        {0: lambda s: s.buy(1.0, leverage=2), 28: lambda s: s.close_position()},
        funding_rate=0.01,
    )
    (trade,) = result.trades
    funding_paid = result.metrics["funding_paid"]
    assert isinstance(funding_paid, float) and funding_paid > 0
    assert trade.margin == pytest.approx(50.0)  # 100 / 2


def test_spot_puts_up_the_whole_notional(make_market: MarketBuilder) -> None:
    market = make_market([FLAT] * 4)
    result, _ = run_script(
        market, {0: lambda s: s.buy(3.0), 2: lambda s: s.close_position()}, mode=Mode.SPOT
    )
    (trade,) = result.trades
    assert trade.margin == pytest.approx(300.0)


def test_a_liquidated_trade_loses_its_margin_and_its_order_shows_the_clearance_fee(
    make_market: MarketBuilder,
) -> None:
    # 100x long of 1 from 100: margin 1; bar 2 falls through the liquidation price (~99.4)
    market = make_market([100.0, 100.0, (100.0, 100.0, 98.0, 99.0), 99.0])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, leverage=100)}, fee_taker=0.0004)
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.LIQUIDATION
    assert trade.margin == pytest.approx(1.0)
    entry, liquidation = result.orders
    # the trade's fees are the entry fee (100 x 0.04 %) plus the clearance fee, the margin left
    # at the liquidation price: 1 - (100 - price)
    clearance = 1.0 - (100.0 - trade.exit_price)
    assert entry.fee == pytest.approx(0.04)
    assert liquidation.fee == pytest.approx(clearance) and liquidation.fee > 0
    assert liquidation.fee + entry.fee == pytest.approx(trade.fees)
    assert trade.pnl == pytest.approx(-trade.margin - entry.fee)


def test_a_filled_close_position_order_records_what_it_closed(make_market: MarketBuilder) -> None:
    market = make_market([FLAT] * 6)
    result, _ = run_script(
        market,
        {0: lambda s: s.buy(4.0, leverage=2), 2: lambda s: s.close_position(25)},
    )
    close = order(result, 2)
    assert close.status is OrderStatus.FILLED
    assert close.amount == close.filled_amount == 1.0  # 25 % of 4
