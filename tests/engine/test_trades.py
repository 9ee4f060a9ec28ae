"""Worked examples: trade PnL for longs and shorts, partial closes, flips, the end-of-data
close, orders expiring and cancelled."""

from __future__ import annotations

import pytest

from app.engine import ExitReason, OrderStatus, PositionSide

from .scripted import Action, MarketBuilder, Observed, order, run_script, warnings_of

TAKER = 0.0005


@pytest.mark.parametrize(
    ("enter", "exit_open", "side", "pnl"),
    [
        # long 1: in at 100, out at 110; fees 100 x 0.0005 + 110 x 0.0005 = 0.105
        # pnl = 1 x (110 - 100) - 0.105 = 9.895
        pytest.param(lambda s: s.buy(1.0), 110.0, PositionSide.LONG, 9.895, id="long-win"),
        # long 1: 100 -> 90; fees 0.05 + 0.045; pnl = -10 - 0.095 = -10.095
        pytest.param(lambda s: s.buy(1.0), 90.0, PositionSide.LONG, -10.095, id="long-loss"),
        # short 2: 100 -> 90; fees 200 x 0.0005 + 180 x 0.0005 = 0.19; pnl = 20 - 0.19 = 19.81
        pytest.param(lambda s: s.sell(2.0), 90.0, PositionSide.SHORT, 19.81, id="short-win"),
        # short 1: 100 -> 110; fees 0.05 + 0.055; pnl = -10 - 0.105 = -10.105
        pytest.param(lambda s: s.sell(1.0), 110.0, PositionSide.SHORT, -10.105, id="short-loss"),
        # leverage changes the margin, not the pnl: long 1 at 5x, same as long-win
        pytest.param(
            lambda s: s.buy(1.0, leverage=5), 110.0, PositionSide.LONG, 9.895, id="long-win-5x"
        ),
    ],
)
def test_closed_trade_pnl_is_price_move_minus_both_fees(
    make_market: MarketBuilder, enter: Action, exit_open: float, side: PositionSide, pnl: float
) -> None:
    market = make_market([100, 100, exit_open, exit_open])
    result, _ = run_script(
        market, {0: enter, 1: lambda s: s.close_position()}, fee_taker=TAKER, cash=1_000.0
    )
    (trade,) = result.trades
    assert (trade.side, trade.entry_price, trade.exit_price) == (side, 100.0, exit_open)
    assert trade.pnl == pytest.approx(pnl)
    assert trade.exit_reason is ExitReason.SIGNAL
    assert (trade.entry_index, trade.exit_index) == (1, 2)
    assert result.metrics["final_equity"] == pytest.approx(1_000.0 + pnl)


def test_partial_close_is_its_own_trade_row_with_its_share_of_entry_fees(
    make_market: MarketBuilder,
) -> None:
    # Long 2 at 100 (entry fee 200 x 0.0005 = 0.10). close_position(25) at 110 closes 0.5:
    # pnl = 0.5 x 10 - 0.25 x 0.10 - 0.5 x 110 x 0.0005 = 5 - 0.025 - 0.0275 = 4.9475.
    # The rest (1.5) closes at the end of data at 120: 1.5 x 20 - 0.075 - 1.5 x 120 x 0.0005
    # = 30 - 0.075 - 0.09 = 29.835.
    market = make_market([100, 100, 110, 120])
    result, seen = run_script(
        market, {0: lambda s: s.buy(2.0), 1: lambda s: s.close_position(25)}, fee_taker=TAKER
    )
    first, rest = result.trades
    assert (first.size, first.exit_price, first.exit_reason) == (0.5, 110.0, ExitReason.SIGNAL)
    assert first.pnl == pytest.approx(4.9475)
    assert first.fees == pytest.approx(0.0525)
    assert seen.positions[2].size == pytest.approx(1.5)
    assert (rest.size, rest.exit_price, rest.exit_reason) == (1.5, 120.0, ExitReason.END_OF_DATA)
    assert rest.pnl == pytest.approx(29.835)
    assert first.entry_time == rest.entry_time == int(market.time[1])


def test_sell_beyond_a_long_closes_it_and_opens_a_short_with_the_rest(
    make_market: MarketBuilder,
) -> None:
    # Long 1 at 100; sell 3 at 105 closes the long (pnl +5) and opens a short of 2 at 105,
    # which the end of data closes at 95: pnl 2 x 10 = +20.
    market = make_market([100, 100, 105, 95])
    result, seen = run_script(market, {0: lambda s: s.buy(1.0), 1: lambda s: s.sell(3.0)})
    long_trade, short_trade = result.trades
    assert (long_trade.side, long_trade.size, long_trade.pnl) == (PositionSide.LONG, 1.0, 5.0)
    assert long_trade.exit_reason is ExitReason.SIGNAL
    assert seen.positions[2].size == -2.0
    assert seen.positions[2].entry_price == 105.0
    assert (short_trade.side, short_trade.size, short_trade.pnl) == (PositionSide.SHORT, 2.0, 20.0)
    assert short_trade.entry_index == 2
    assert order(result, 2).filled_amount == 3.0


def test_adding_to_a_position_averages_the_entry_price(make_market: MarketBuilder) -> None:
    # 1 at 100 then 3 at 120: entry (100 + 360) / 4 = 115; margin at 2x: 50 + 180 = 230.
    market = make_market([100, 100, 120, 120])
    _, seen = run_script(
        market, {0: lambda s: s.buy(1.0, leverage=2), 1: lambda s: s.buy(3.0, leverage=2)}
    )
    assert seen.positions[2].entry_price == 115.0
    assert seen.positions[2].margin == 230.0
    assert seen.positions[2].leverage == pytest.approx(2.0)


def test_open_position_is_closed_at_the_last_close_as_end_of_data(
    make_market: MarketBuilder,
) -> None:
    # Short 1 at 100 (bar 1 open), last bar (100, 101, 96, 97): closed at its close 97 with the
    # taker fee: pnl = 3 - 0.05 - 0.0485 = 2.9015.
    market = make_market([100, 100, (100, 101, 96, 97)])
    result, _ = run_script(market, {0: lambda s: s.sell(1.0)}, fee_taker=TAKER)
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.END_OF_DATA
    assert (trade.exit_price, trade.exit_time) == (97.0, int(market.time[2]))
    assert trade.pnl == pytest.approx(2.9015)
    closing = result.orders[-1]
    assert (closing.status, closing.reason) == (OrderStatus.FILLED, "end_of_data")
    assert result.equity.position[-1] == 0.0


def test_working_order_expires_when_the_data_ends(make_market: MarketBuilder) -> None:
    market = make_market([100, 100, 100])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, limit=90)})
    expired = order(result, 1)
    assert expired.status is OrderStatus.EXPIRED
    assert expired.reason == "the data ended before it filled"
    assert result.trades == ()


def test_cancelled_order_never_fills_and_a_second_cancel_is_false(
    make_market: MarketBuilder,
) -> None:
    # Limit 95 placed at bar 0 would fill in bar 2 (low 94); it is cancelled at bar 1.
    market = make_market([100, 100, (100, 100, 94, 96), 96])
    seen = Observed()
    cancel: Action = lambda s: s.cancel(seen.tickets[0])  # noqa: E731
    result, _ = run_script(
        market, {0: lambda s: s.buy(1.0, limit=95), 1: [cancel, cancel]}, seen=seen
    )
    cancelled = order(result, 1)
    assert (cancelled.status, cancelled.reason) == (
        OrderStatus.CANCELLED,
        "cancelled by the strategy",
    )
    assert seen.returned[1] == [True, False]
    assert result.trades == ()


def test_cancelling_a_filled_order_returns_false(make_market: MarketBuilder) -> None:
    market = make_market([100, 100, 100])
    seen = Observed()
    result, _ = run_script(
        market, {0: lambda s: s.buy(1.0), 1: lambda s: s.cancel(seen.tickets[0])}, seen=seen
    )
    assert seen.returned[1] == [False]
    assert order(result, 1).status is OrderStatus.FILLED


def test_close_position_when_flat_places_nothing(make_market: MarketBuilder) -> None:
    market = make_market([100, 100, 100])
    result, seen = run_script(market, {0: lambda s: s.close_position()})
    assert seen.returned[0] == [None]
    assert result.orders == ()
    assert warnings_of(result) == []
