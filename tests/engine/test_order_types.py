"""Worked examples of the order types beyond market/limit/stop: trailing stops, OCO pairs,
reduce-only, post-only, ioc/fok, partial close by amount, and the checks of their options."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine import CancelReason, ExitReason, OrderStatus, OrderType, RejectReason

from .scripted import Action, MarketBuilder, OhlcRow, order, run_script, warnings_of

FLAT: OhlcRow = (100.0, 100.0, 100.0, 100.0)


# -- trailing stops ---------------------------------------------------------------------------


def test_a_trailing_distance_follows_the_high_and_fires_on_the_way_down(
    make_market: MarketBuilder,
) -> None:
    # Long 1 @ 100 (bar 1's open), trailing 5 behind the best price. Bar 1 goes 100 -> 108 ->
    # 107: best 108, stop 103. Bar 2 goes 107 -> 102: the stop at 103 fills, pnl +3.
    market = make_market([FLAT, (100, 108, 100, 107), (107, 107, 102, 103), FLAT])
    result, seen = run_script(market, {0: lambda s: s.buy(1.0, trailing_stop=5.0)})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_index, trade.exit_price) == (
        ExitReason.TRAILING_STOP,
        2,
        103.0,
    )
    assert trade.pnl == pytest.approx(3.0)
    assert seen.positions[1].trailing_stop == 103.0
    exit_order = result.orders[-1]
    assert (exit_order.type, exit_order.stop_price, exit_order.reason) == (
        OrderType.STOP,
        103.0,
        "trailing_stop",
    )


def test_a_trailing_percent_on_a_short_follows_the_low(make_market: MarketBuilder) -> None:
    # Short 1 @ 100, trailing 10 %. Bar 1 falls to 90: stop 90 x 1.1 = 99. Bar 2 goes
    # 92 -> 91.5 -> 101: the rise meets 99 first: out at 99, pnl +1.
    market = make_market([FLAT, (100, 100, 90, 92), (92, 101, 91.5, 95), FLAT])
    result, seen = run_script(market, {0: lambda s: s.sell(1.0, trailing_percent=10.0)})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_index) == (ExitReason.TRAILING_STOP, 2)
    assert trade.exit_price == pytest.approx(99.0)
    assert seen.positions[1].trailing_stop == pytest.approx(99.0)


def test_an_open_below_the_trailing_stop_fills_it_at_the_open(make_market: MarketBuilder) -> None:
    # Best 108 after bar 1, stop 103; bar 2 opens at 101, below it: out at the open 101.
    market = make_market([FLAT, (100, 108, 100, 107), (101, 102, 100, 101), FLAT])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, trailing_stop=5.0)})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_price) == (ExitReason.TRAILING_STOP, 101.0)


def test_a_trailing_stop_starts_from_a_stop_entry_inside_the_bar(
    make_market: MarketBuilder,
) -> None:
    # Buy stop 102 trailing 3: bar 1 goes 100 -> 99 -> 106 -> 104 (low first). In at 102, the
    # best rises to 106 (stop 103); the fall to 104 does not reach it. Bar 2 falls to 102.5.
    market = make_market([FLAT, (100, 106, 99, 104), (104, 104, 102.5, 103), FLAT])
    result, seen = run_script(market, {0: lambda s: s.buy(1.0, stop=102, trailing_stop=3.0)})
    (trade,) = result.trades
    assert seen.positions[1].trailing_stop == 103.0
    assert (trade.entry_price, trade.exit_price, trade.exit_index) == (102.0, 103.0, 2)


# -- OCO --------------------------------------------------------------------------------------


def exit_bracket(s: Any) -> None:
    """A take-profit limit at 110 and a stop at 95 for the long, one cancelling the other."""
    target = s.sell(1.0, limit=110, reduce_only=True)
    s.sell(1.0, stop=95, reduce_only=True, oco=target)


def test_an_oco_partner_is_cancelled_when_the_other_fills(make_market: MarketBuilder) -> None:
    # Long 1 @ 100 at bar 1; the bracket is placed at bar 1's close (orders #2, #3). Bar 2
    # reaches 110: #2 fills, #3 is cancelled.
    market = make_market([FLAT, FLAT, (100, 111, 99, 110), FLAT])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0), 1: exit_bracket})
    assert order(result, 2).status is OrderStatus.FILLED
    stop = order(result, 3)
    assert stop.status is OrderStatus.CANCELLED
    assert stop.reason == "its OCO partner filled (order #2)"
    (trade,) = result.trades
    assert trade.exit_price == 110.0


def test_the_first_oco_leg_on_the_path_fills(make_market: MarketBuilder) -> None:
    # A breakout either way: buy stop 105 / sell stop 95. Bar 1 goes 100 -> 94 -> 106 (the low
    # is nearer): the sell stop fills at 95; the buy stop is cancelled before the rise.
    def bracket(s: Any) -> None:
        up = s.buy(1.0, stop=105)
        s.sell(1.0, stop=95, oco=up)

    market = make_market([FLAT, (100, 106, 94, 100), FLAT])
    result, _ = run_script(market, {0: bracket})
    assert order(result, 2).status is OrderStatus.FILLED
    assert order(result, 1).status is OrderStatus.CANCELLED
    (trade,) = result.trades
    assert (trade.side.value, trade.entry_price) == ("short", 95.0)


def test_cancelling_one_oco_leg_cancels_the_other(make_market: MarketBuilder) -> None:
    def cancel_first(s: Any) -> None:
        s.cancel(s.open_orders[0])  # order #2, the take-profit leg

    market = make_market([FLAT, FLAT, FLAT, FLAT])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0), 1: exit_bracket, 2: cancel_first})
    assert order(result, 2).status is OrderStatus.CANCELLED
    partner = order(result, 3)
    assert (partner.status, partner.reason) == (
        OrderStatus.CANCELLED,
        "its OCO partner was cancelled (order #2)",
    )


# -- reduce-only, close by amount -------------------------------------------------------------


def test_reduce_only_is_cut_to_the_position_and_never_opens(make_market: MarketBuilder) -> None:
    # Long 1; a reduce-only sell of 3 closes the 1 and opens no short.
    market = make_market([FLAT, FLAT, FLAT, FLAT])
    result, seen = run_script(
        market, {0: lambda s: s.buy(1.0), 1: lambda s: s.sell(3.0, reduce_only=True)}
    )
    assert order(result, 2).filled_amount == 1.0
    assert seen.positions[2].size == 0.0
    assert result.trades[0].size == 1.0


@pytest.mark.parametrize(
    "script",
    [
        pytest.param({0: lambda s: s.sell(1.0, reduce_only=True)}, id="flat"),
        pytest.param(
            {0: lambda s: s.buy(1.0), 1: lambda s: s.buy(1.0, reduce_only=True)}, id="same-side"
        ),
    ],
)
def test_reduce_only_with_nothing_to_reduce_is_cancelled(
    make_market: MarketBuilder, script: dict[int, Action]
) -> None:
    result, _ = run_script(make_market([FLAT] * 4), script)
    last = order(result, len(script))
    assert last.status is OrderStatus.CANCELLED
    assert "no opposite position to reduce" in last.reason


@pytest.mark.parametrize(
    ("close", "closed", "left"),
    [
        pytest.param(lambda s: s.close_position(amount=0.5), 0.5, 1.5, id="part"),
        pytest.param(lambda s: s.close_position(amount=5.0), 2.0, 0.0, id="more-than-held"),
    ],
)
def test_close_position_by_amount(
    make_market: MarketBuilder, close: Action, closed: float, left: float
) -> None:
    market = make_market([FLAT, FLAT, FLAT, FLAT])
    result, seen = run_script(market, {0: lambda s: s.buy(2.0), 1: close})
    assert result.trades[0].size == closed
    assert seen.positions[2].size == left


# -- post-only, ioc, fok ----------------------------------------------------------------------


def test_post_only_limit_rests_and_pays_the_maker_fee(make_market: MarketBuilder) -> None:
    # Buy limit 99 post-only; bar 1 opens at 100 and dips to 98: filled at 99, maker fee
    # 99 x 0.0002 = 0.0198.
    market = make_market([FLAT, (100, 100, 98, 99), FLAT])
    result, _ = run_script(
        market,
        {0: lambda s: s.buy(1.0, limit=99, post_only=True)},
        fee_maker=0.0002,
        fee_taker=0.0005,
    )
    filled = order(result, 1)
    assert filled.filled_price == 99.0
    assert filled.fee == pytest.approx(0.0198)


def test_post_only_limit_refused_when_it_would_take(make_market: MarketBuilder) -> None:
    # At the close 100, a buy limit at 100 would cross: denied. A buy limit at 99 arriving at
    # an open of 98.5 would take there: rejected at its arrival, nothing fills.
    market = make_market([FLAT, (98.5, 99, 98, 98.5), FLAT])
    result, _ = run_script(
        market,
        {
            0: [
                lambda s: s.buy(1.0, limit=100, post_only=True),
                lambda s: s.buy(1.0, limit=99, post_only=True),
            ]
        },
    )
    denied, arrived = order(result, 1), order(result, 2)
    assert denied.status is OrderStatus.DENIED
    assert "post_only limit 100 would take liquidity at the price 100" in denied.reason
    assert arrived.status is OrderStatus.REJECTED
    assert "would have taken liquidity at the open 98.5" in arrived.reason
    assert result.trades == ()


def test_ioc_limit_fills_at_the_open_or_is_cancelled(make_market: MarketBuilder) -> None:
    # Buy limit 101 ioc: bar 1 opens at 100, through it: filled at 100 (taker). Buy limit 99
    # ioc: the open 100 is above it; the later dip to 98 does not count: cancelled.
    market = make_market([FLAT, (100, 100, 98, 99), FLAT])
    result, _ = run_script(
        market,
        {
            0: [
                lambda s: s.buy(1.0, limit=101, time_in_force="ioc"),
                lambda s: s.buy(1.0, limit=99, time_in_force="IOC"),
            ]
        },
        fee_maker=0.0002,
        fee_taker=0.0005,
    )
    taken, missed = order(result, 1), order(result, 2)
    assert taken.filled_price == 100.0
    assert taken.fee == pytest.approx(0.05)
    assert missed.status is OrderStatus.CANCELLED
    assert missed.reason == "ioc/fok: the open did not reach its limit"


@pytest.mark.parametrize(
    ("time_in_force", "status", "size_after"),
    [
        # Long 5 @ 100 from cash 1,000 (500 left). Sell 20 at 1x: closing 5 frees 1,000, the
        # short of 15 would need 1,500. fok: nothing fills, the long stays.
        pytest.param("fok", OrderStatus.REJECTED, 5.0, id="fok-all-or-nothing"),
        # ioc: the close of 5 fills, the rest is refused.
        pytest.param("ioc", OrderStatus.FILLED, 0.0, id="ioc-fills-what-it-can"),
    ],
)
def test_fok_fills_all_or_nothing(
    make_market: MarketBuilder, time_in_force: str, status: OrderStatus, size_after: float
) -> None:
    market = make_market([FLAT] * 4)
    result, seen = run_script(
        market,
        {0: lambda s: s.buy(5.0), 1: lambda s: s.sell(20.0, time_in_force=time_in_force)},
        cash=1_000.0,
    )
    assert order(result, 2).status is status
    assert seen.positions[2].size == size_after
    if time_in_force == "fok":
        assert "fok: the whole 20 could not fill, so none did" in order(result, 2).reason


# -- sizing -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("place", "config", "amount"),
    [
        # quote 1,000 at the close 100: 10
        pytest.param(lambda s: s.buy(quote=1_000.0), {}, 10.0, id="quote-market"),
        # quote 1,000 at the limit 80: 12.5
        pytest.param(lambda s: s.buy(quote=1_000.0, limit=80), {}, 12.5, id="quote-limit"),
        # half the equity 10,000 as margin at 2x, no fee: notional 10,000, 100 units
        pytest.param(lambda s: s.buy(equity_fraction=0.5, leverage=2), {}, 100.0, id="fraction-2x"),
        # all of it with a 0.1 % taker fee: 10,000 / 1.001 notional, so margin + fee = 10,000
        pytest.param(
            lambda s: s.buy(equity_fraction=1.0),
            {"fee_taker": 0.001},
            10_000.0 / 1.001 / 100.0,
            id="fraction-all-with-fee",
        ),
        # risk 1 % of 10,000 = 100 over the 5 to the stop-loss 95: 20 units
        pytest.param(lambda s: s.buy(risk=0.01, stop_loss=95), {}, 20.0, id="risk-long"),
        # a short at the limit 100.5 with its stop at 104.5: 100 over 4, 25 units
        pytest.param(
            lambda s: s.sell(risk=0.01, limit=100.5, stop_loss=104.5), {}, 25.0, id="risk-short"
        ),
    ],
)
def test_sizes_are_worked_out_in_base_units_when_placed(
    make_market: MarketBuilder, place: Action, config: dict[str, Any], amount: float
) -> None:
    result, seen = run_script(make_market([FLAT, FLAT, FLAT]), {0: place}, cash=10_000.0, **config)
    (ticket,) = seen.tickets
    assert ticket.amount == pytest.approx(amount)
    placed = order(result, 1)
    assert placed.amount == pytest.approx(amount)
    if ticket.type is OrderType.MARKET:  # it fits the account: it fills in full
        assert (placed.status, placed.filled_amount) == (OrderStatus.FILLED, placed.amount)


def test_risk_sizing_loses_the_risk_at_the_stop(make_market: MarketBuilder) -> None:
    market = make_market([FLAT, FLAT, (100, 100, 94, 96), FLAT])
    result, _ = run_script(market, {0: lambda s: s.buy(risk=0.02, stop_loss=96)}, cash=5_000.0)
    (trade,) = result.trades
    # 2 % of 5,000 = 100 over 4: 25 units; the stop at 96 loses 25 x 4 = 100
    assert (trade.size, trade.exit_reason) == (25.0, ExitReason.STOP_LOSS)
    assert trade.pnl == pytest.approx(-100.0)


# -- checks of the new options ----------------------------------------------------------------

OPTION_REFUSALS = [
    (lambda s: s.buy(1.0, trailing_percent=150), RejectReason.INVALID_OPTION,
     "trailing_percent must be above 0 and below 100, got 150"),
    (lambda s: s.buy(1.0, trailing_stop=-1), RejectReason.INVALID_OPTION,
     "trailing_stop must be a positive distance, got -1"),
    (lambda s: s.buy(1.0, trailing_stop=5, trailing_percent=1), RejectReason.CONFLICTING_OPTIONS,
     "give trailing_stop (a distance) or trailing_percent, not both"),
    (lambda s: s.buy(1.0, reduce_only="yes"), RejectReason.INVALID_OPTION,
     "reduce_only must be True or False, got 'yes'"),
    (lambda s: s.buy(1.0, post_only=1), RejectReason.INVALID_OPTION,
     "post_only must be True or False, got 1"),
    (lambda s: s.buy(1.0, time_in_force="day"), RejectReason.INVALID_OPTION,
     "time_in_force must be 'gtc', 'ioc' or 'fok', got 'day'"),
    (lambda s: s.buy(1.0, stop=105, time_in_force="fok"), RejectReason.CONFLICTING_OPTIONS,
     "time_in_force fok applies to market and limit orders"),
    (lambda s: s.buy(1.0, post_only=True), RejectReason.CONFLICTING_OPTIONS,
     "post_only applies to limit orders: give limit= too"),
    (lambda s: s.buy(1.0, limit=99, post_only=True, time_in_force="ioc"),
     RejectReason.CONFLICTING_OPTIONS, "post_only limits rest in the book"),
    (lambda s: s.sell(1.0, reduce_only=True, stop_loss=105), RejectReason.CONFLICTING_OPTIONS,
     "reduce_only orders open no position"),
    (lambda s: s.buy(), RejectReason.SIZE_MISSING, "give the order's size: amount (base units)"),
    (lambda s: s.buy(1.0, quote=100), RejectReason.CONFLICTING_OPTIONS,
     "give one size, not amount and quote"),
    (lambda s: s.buy(quote="100"), RejectReason.NOT_A_NUMBER, "quote must be a number, got str"),
    (lambda s: s.buy(equity_fraction=1.5), RejectReason.INVALID_OPTION,
     "equity_fraction must be above 0 and at most 1, got 1.5"),
    (lambda s: s.buy(risk=0.01), RejectReason.CONFLICTING_OPTIONS,
     "risk sizes the order from its stop-loss distance: give stop_loss= too"),
    (lambda s: s.buy(risk=0.0, stop_loss=95), RejectReason.INVALID_OPTION,
     "risk must be above 0 and at most 1, got 0"),
    (lambda s: s.buy(1.0, oco="#1"), RejectReason.CONFLICTING_OPTIONS,
     "oco pairs resting orders"),
    (lambda s: s.buy(1.0, limit=99, oco="#1"), RejectReason.INVALID_OPTION,
     "oco takes an order returned by buy or sell, got str"),
    (lambda s: s.buy(1.0, limit=99, oco=7), RejectReason.OCO_PARTNER_NOT_WORKING,
     "oco: order #7 is not working"),
    (lambda s: s.close_position(50, amount=1.0), RejectReason.CONFLICTING_OPTIONS,
     "close_position takes percentage or amount, not both"),
    (lambda s: s.close_position(amount=-1.0), RejectReason.AMOUNT_NOT_POSITIVE,
     "amount must be positive base units, got -1"),
]  # fmt: skip


@pytest.mark.parametrize(("request_", "reason", "message"), OPTION_REFUSALS)
def test_each_new_option_is_checked_with_a_sentence(
    make_market: MarketBuilder, request_: Action, reason: RejectReason, message: str
) -> None:
    journal: list[Any] = []
    script: dict[int, Action | list[Action]] = {
        0: lambda s: s.buy(1.0),  # a long, so close_position has something to close
        1: request_,
    }
    result, _ = run_script(make_market([FLAT] * 4), script, journal=journal)
    denied = [e for e in journal if type(e).__name__ == "OrderDenied"]
    assert [e.reason for e in denied] == [reason]
    assert message in denied[0].message
    assert any(message in line for line in warnings_of(result))


def test_cancel_reasons_are_stable_codes() -> None:
    assert {CancelReason.OCO_PARTNER_FILLED, CancelReason.NOTHING_TO_REDUCE} <= set(CancelReason)
