"""The engine speaks in events: every order status change is one, refusals carry a reason code,
the order records and the log's engine notices are derived from them, and the order state
table refuses a move it does not list."""

from __future__ import annotations

from itertools import product
from typing import Any

import pytest

from app.engine import (
    ORDER_STATE_TABLE,
    Bar,
    CancelReason,
    Event,
    FundingSettled,
    Liquidity,
    MarketData,
    Mode,
    OrderAccepted,
    OrderCancelled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
    OrderStateError,
    OrderStatus,
    OrderType,
    PositionLiquidated,
    RejectReason,
    RunConfig,
    Strategy,
    run_backtest,
)
from app.engine.fees import FeeModel
from app.engine.orders import EVENT_STATUS, Order

from .scripted import QUIET, Action, MarketBuilder, Observed, run_script, warnings_of

PRICES = [30_000.0] * 5
FLAT = (100.0, 100.0, 100.0, 100.0)


def journaled(
    market: MarketData, script: dict[int, Action | list[Action]], **config: Any
) -> tuple[Any, list[Event]]:
    journal: list[Event] = []
    result, _ = run_script(market, script, journal=journal, **config)
    return result, journal


def of_order(journal: list[Event], order_id: int) -> list[type]:
    return [type(e) for e in journal if getattr(e, "order_id", None) == order_id]


# -- refusals at placement ------------------------------------------------------------------

DENIALS = [
    pytest.param(lambda s: s.buy(0.0), {}, RejectReason.AMOUNT_NOT_POSITIVE, id="zero-amount"),
    pytest.param(lambda s: s.sell(-2.0), {}, RejectReason.AMOUNT_NOT_POSITIVE, id="negative"),
    pytest.param(lambda s: s.buy("1"), {}, RejectReason.NOT_A_NUMBER, id="text-amount"),
    pytest.param(lambda s: s.buy(True), {}, RejectReason.NOT_A_NUMBER, id="bool-amount"),
    pytest.param(lambda s: s.buy(float("inf")), {}, RejectReason.NOT_FINITE, id="inf-amount"),
    pytest.param(
        lambda s: s.buy(0.01, leverage=float("nan")), {}, RejectReason.NOT_FINITE, id="nan-lev"
    ),
    pytest.param(
        lambda s: s.buy(0.01, leverage=126), {}, RejectReason.LEVERAGE_OUT_OF_RANGE, id="126x"
    ),
    pytest.param(
        lambda s: s.buy(0.01, limit=29_000, stop=31_000),
        {},
        RejectReason.LIMIT_AND_STOP,
        id="limit-and-stop",
    ),
    pytest.param(
        lambda s: s.buy(0.01, stop=0), {}, RejectReason.PRICE_NOT_POSITIVE, id="zero-stop"
    ),
    pytest.param(
        lambda s: s.buy(0.01, stop_loss=31_000),
        {},
        RejectReason.STOP_LOSS_WRONG_SIDE,
        id="stop-loss-above-a-long",
    ),
    pytest.param(
        lambda s: s.sell(0.01, take_profit=31_000),
        {},
        RejectReason.TAKE_PROFIT_WRONG_SIDE,
        id="take-profit-above-a-short",
    ),
    pytest.param(
        lambda s: s.close_position(0), {}, RejectReason.PERCENTAGE_OUT_OF_RANGE, id="close-0%"
    ),
    pytest.param(lambda s: s.close_position("all"), {}, RejectReason.NOT_A_NUMBER, id="close-text"),
    pytest.param(
        lambda s: s.sell(0.01), {"mode": Mode.SPOT}, RejectReason.SPOT_CANNOT_SHORT, id="spot"
    ),
    pytest.param(
        lambda s: s.buy(0.01, leverage=3),
        {"mode": Mode.SPOT},
        RejectReason.SPOT_HAS_NO_LEVERAGE,
        id="spot-leverage",
    ),
]


@pytest.mark.parametrize(("refused", "config", "code"), DENIALS)
def test_a_refused_request_is_an_order_with_an_id_a_reason_code_and_an_order_denied_event(
    make_market: MarketBuilder, refused: Action, config: dict[str, Any], code: RejectReason
) -> None:
    market = make_market(PRICES)
    result, journal = journaled(market, {0: refused, 1: lambda s: s.buy(0.01)}, **config)
    denied = [e for e in journal if isinstance(e, OrderDenied)]
    assert [(e.order_id, e.reason) for e in denied] == [(1, code)]
    (event,) = denied
    assert (event.bar_index, event.time) == (0, int(market.time[0]))
    record = result.orders[0]
    assert (record.id, record.status, record.reason) == (1, OrderStatus.DENIED, event.message)
    assert of_order(journal, 1) == [OrderDenied]  # never accepted, never filled
    # The next request gets the next id and works as usual.
    assert of_order(journal, 2) == [OrderAccepted, OrderFilled]
    (warning,) = warnings_of(result)  # the log line is derived from the event
    assert warning.endswith(f" refused: {event.message}")


def test_an_order_placed_in_initialize_is_denied_at_the_first_traded_bar(
    make_market: MarketBuilder,
) -> None:
    class EagerStrategy(Strategy):
        def initialize(self) -> None:
            self.buy(1.0)
            self.close_position()

        def on_data(self, bar: Bar) -> None:
            pass

    market = make_market([100.0] * 6)
    journal: list[Event] = []
    start = int(market.time[2])
    result = run_backtest(EagerStrategy, market, RunConfig(start=start, **QUIET), journal=journal)
    assert [(type(e), e.order_id) for e in journal] == [(OrderDenied, 1), (OrderDenied, 2)]
    assert all(
        isinstance(e, OrderDenied) and e.reason is RejectReason.PLACED_IN_INITIALIZE
        for e in journal
    )
    assert {(e.bar_index, e.time) for e in journal} == {(2, start)}  # type: ignore[union-attr]
    assert [o.status for o in result.orders] == [OrderStatus.DENIED, OrderStatus.DENIED]


def test_every_denied_order_has_exactly_one_log_line(make_market: MarketBuilder) -> None:
    script: dict[int, Action | list[Action]] = {
        0: [lambda s: s.buy(0.0), lambda s: s.buy(0.01, leverage=500)],
        1: lambda s: s.sell("x"),
    }
    result, journal = journaled(make_market(PRICES), script)
    denied = [e for e in journal if isinstance(e, OrderDenied)]
    assert [e.order_id for e in denied] == [1, 2, 3]
    assert warnings_of(result) == [
        f"{side} refused: {e.message}"
        for side, e in zip(("buy", "buy", "sell"), denied, strict=True)
    ]


# -- refusals at the fill -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refused", "config", "code"),
    [
        pytest.param(lambda s: s.buy(1.0), {}, RejectReason.INSUFFICIENT_CASH, id="cash"),
        pytest.param(
            lambda s: s.buy(10.0, leverage=75),
            {"cash": 1_000_000.0},
            RejectReason.TIER_LEVERAGE,
            id="tier",
        ),
        pytest.param(lambda s: s.buy(1e-13), {}, RejectReason.BELOW_MINIMUM_SIZE, id="dust"),
    ],
)
def test_an_order_the_account_cannot_carry_is_accepted_then_rejected_with_a_code(
    make_market: MarketBuilder, refused: Action, config: dict[str, Any], code: RejectReason
) -> None:
    result, journal = journaled(make_market(PRICES), {0: refused}, **config)
    assert of_order(journal, 1) == [OrderAccepted, OrderRejected]
    (rejected,) = [e for e in journal if isinstance(e, OrderRejected)]
    assert (rejected.reason, rejected.bar_index) == (code, 1)
    assert result.orders[0].status is OrderStatus.REJECTED
    assert result.orders[0].reason == rejected.message


def test_a_flip_the_account_cannot_open_fills_its_close_and_names_the_refused_rest(
    make_market: MarketBuilder,
) -> None:
    # Long 0.3 at 30,000 with 10,000 cash (9,000 margin); selling 1.0 closes the 0.3 and
    # would open a 0.7 short needing 21,000 margin: the close fills, the rest is refused.
    script: dict[int, Action | list[Action]] = {0: lambda s: s.buy(0.3), 1: lambda s: s.sell(1.0)}
    result, journal = journaled(make_market(PRICES), script)
    (fill,) = [e for e in journal if isinstance(e, OrderFilled) and e.order_id == 2]
    assert fill.rest_refused is RejectReason.INSUFFICIENT_CASH and fill.amount == 0.3
    record = result.orders[1]
    assert (record.status, record.filled_amount, record.reason) == (
        OrderStatus.FILLED,
        0.3,
        fill.note,
    )
    assert warnings_of(result) == [
        f"order #2 (sell 1 market) partly filled, rest refused: {fill.note}"
    ]


# -- what happens to working orders ---------------------------------------------------------


def test_fills_name_their_liquidity_side_and_pay_that_sides_rate(
    make_market: MarketBuilder,
) -> None:
    # A market buy (taker) at bar 1, a limit sell at 101 (maker) filled in bar 2's range.
    market = make_market([100.0, 100.0, (100.0, 102.0, 99.0, 101.0), 101.0])
    script: dict[int, Action | list[Action]] = {
        0: lambda s: s.buy(1.0),
        1: lambda s: s.sell(1.0, limit=101.0),
    }
    result, journal = journaled(market, script, fee_maker=0.0002, fee_taker=0.0005)
    fills = [e for e in journal if isinstance(e, OrderFilled)]
    assert [(e.order_id, e.liquidity) for e in fills] == [
        (1, Liquidity.TAKER),
        (2, Liquidity.MAKER),
    ]
    assert fills[0].fee == pytest.approx(100.0 * 0.0005)
    assert fills[1].fee == pytest.approx(101.0 * 0.0002)
    assert [o.fee for o in result.orders] == [fills[0].fee, fills[1].fee]


@pytest.mark.parametrize(
    ("order_kwargs", "bar_2", "reason", "liquidity"),
    [
        # long from 100 with its stop at 95: bar 2 trades down to 94
        ({"stop_loss": 95.0}, (100.0, 100.0, 94.0, 96.0), "stop_loss", Liquidity.TAKER),
        # target 105: bar 2 trades up to 106
        ({"take_profit": 105.0}, (100.0, 106.0, 100.0, 104.0), "take_profit", Liquidity.MAKER),
    ],
)
def test_a_protective_exit_is_an_engine_order_accepted_and_filled_at_once(
    make_market: MarketBuilder,
    order_kwargs: dict[str, float],
    bar_2: tuple[float, float, float, float],
    reason: str,
    liquidity: Liquidity,
) -> None:
    market = make_market([100.0, 100.0, bar_2, 100.0])
    result, journal = journaled(market, {0: lambda s: s.buy(1.0, **order_kwargs)})
    assert of_order(journal, 2) == [OrderAccepted, OrderFilled]
    (exit_fill,) = [e for e in journal if isinstance(e, OrderFilled) and e.order_id == 2]
    assert (exit_fill.note, exit_fill.liquidity, exit_fill.bar_index) == (reason, liquidity, 2)
    assert result.orders[1].reason == reason


def test_a_liquidation_is_a_filled_engine_order_and_a_position_liquidated_event(
    make_market: MarketBuilder,
) -> None:
    # 100x long from 100: the liquidation price is near 99.5; bar 2 trades down to 98.
    market = make_market([100.0, 100.0, (100.0, 100.0, 98.0, 99.0), 99.0])
    result, journal = journaled(market, {0: lambda s: s.buy(1.0, leverage=100)})
    (liquidated,) = [e for e in journal if isinstance(e, PositionLiquidated)]
    (trade,) = result.trades
    assert (liquidated.bar_index, liquidated.size, liquidated.loss) == (2, 1.0, -trade.pnl)
    assert of_order(journal, liquidated.order_id) == [
        OrderAccepted,
        OrderFilled,
        PositionLiquidated,
    ]
    fill = journal[journal.index(liquidated) - 1]
    assert isinstance(fill, OrderFilled) and fill.liquidity is None
    # Its fee is the clearance fee: the margin left at the liquidation price (1.0 of margin at
    # 100x, less the 1 unit's fall from 100 to ~99.398), which with the entry fee makes the
    # trade's fees; the order record shows it.
    entry, liquidation = result.orders
    assert fill.fee == pytest.approx(1.0 + (liquidated.price - 100.0)) and fill.fee > 0.0
    assert fill.fee + entry.fee == pytest.approx(trade.fees, abs=1e-12)
    assert liquidation.fee == fill.fee and liquidation.reason == "liquidation"
    assert warnings_of(result) == [
        f"position liquidated at {liquidated.price:,.2f}: 1 long, lost its margin "
        f"({liquidated.loss:,.2f} incl. fees)"
    ]


def test_cancel_and_expiry_are_events_with_their_reasons(make_market: MarketBuilder) -> None:
    seen = Observed()
    journal: list[Event] = []
    script: dict[int, Action | list[Action]] = {
        0: [lambda s: s.buy(1.0, limit=50.0), lambda s: s.buy(1.0, limit=60.0)],
        1: lambda s: s.cancel(seen.tickets[0]),
    }
    result, _ = run_script(make_market([100.0] * 4), script, seen=seen, journal=journal)
    (cancelled,) = [e for e in journal if isinstance(e, OrderCancelled)]
    (expired,) = [e for e in journal if isinstance(e, OrderExpired)]
    assert (cancelled.order_id, cancelled.reason, cancelled.bar_index) == (
        1,
        CancelReason.BY_STRATEGY,
        1,
    )
    assert (expired.order_id, expired.bar_index) == (2, 3)
    assert [o.status for o in result.orders] == [OrderStatus.CANCELLED, OrderStatus.EXPIRED]


def test_funding_is_an_event_per_instant_adding_up_to_the_funding_paid(
    make_market: MarketBuilder,
) -> None:
    # 1 h bars from 00:00: the 08:00 and 16:00 instants fall in a 20-bar run.
    result, journal = journaled(
        make_market([100.0] * 20), {0: lambda s: s.buy(1.0)}, funding_rate=0.0001
    )
    funding = [e for e in journal if isinstance(e, FundingSettled)]
    assert [e.bar_index for e in funding] == [8, 16]
    assert all(e.rate == 0.0001 and e.payment == pytest.approx(0.01) for e in funding)
    assert sum(e.payment for e in funding) == pytest.approx(result.metrics["funding_paid"])


# -- records derived from events ------------------------------------------------------------


def test_each_order_record_is_its_last_event_applied(make_market: MarketBuilder) -> None:
    market = make_market([100.0, 100.0, (100.0, 103.0, 97.0, 101.0), 101.0, 101.0])
    script: dict[int, Action | list[Action]] = {
        0: [lambda s: s.buy(0.0), lambda s: s.buy(1.0, take_profit=102.0)],
        1: [lambda s: s.sell(1.0, limit=150.0), lambda s: s.buy(100.0)],
    }
    result, journal = journaled(market, script)
    for record in result.orders:
        events = [e for e in journal if getattr(e, "order_id", None) == record.id]
        last = next(e for e in reversed(events) if type(e) in EVENT_STATUS)
        assert record.status is EVENT_STATUS[type(last)]
        if isinstance(last, OrderFilled):
            assert (record.filled_time, record.filled_price, record.filled_amount, record.fee) == (
                last.time,
                last.price,
                last.amount,
                last.fee,
            )
        else:
            assert record.filled_time is None and record.filled_amount == 0.0


def test_collecting_events_changes_no_result(make_market: MarketBuilder) -> None:
    market = make_market([100.0, 100.0, (100.0, 103.0, 97.0, 101.0), 99.0, 101.0, 102.0])
    script: dict[int, Action | list[Action]] = {
        0: lambda s: s.buy(1.0, stop_loss=98.0, leverage=5),
        3: lambda s: s.sell(0.5, limit=101.5),
        4: lambda s: s.close_position(50),
    }
    plain, _ = run_script(market, script, funding_rate=0.0001)
    collected, journal = journaled(market, script, funding_rate=0.0001)
    assert journal
    assert (plain.orders, plain.trades, plain.logs) == (
        collected.orders,
        collected.trades,
        collected.logs,
    )
    assert plain.equity.equity.tolist() == collected.equity.equity.tolist()


# -- the order state table ------------------------------------------------------------------


def test_the_state_table_lists_every_status() -> None:
    assert set(ORDER_STATE_TABLE) == set(OrderStatus)
    finals = {status for status, targets in ORDER_STATE_TABLE.items() if not targets}
    assert finals == {
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
        OrderStatus.REJECTED,
        OrderStatus.EXPIRED,
        OrderStatus.DENIED,
    }


def a_working_order(status: OrderStatus) -> Order:
    order = Order(1, 1, OrderType.MARKET, 1.0, None, None, 1.0, None, None, 0, 0)
    order.status = status
    return order


EVENTS: dict[type, OrderEvent] = {
    OrderAccepted: OrderAccepted(1, 0, 0),
    OrderDenied: OrderDenied(1, 0, 0, RejectReason.AMOUNT_NOT_POSITIVE, "no"),
    OrderFilled: OrderFilled(1, 0, 0, 100.0, 1.0, 0.05, Liquidity.TAKER, None, ""),
    OrderRejected: OrderRejected(1, 0, 0, RejectReason.INSUFFICIENT_CASH, "no"),
    OrderCancelled: OrderCancelled(1, 0, 0, CancelReason.BY_STRATEGY, "gone"),
    OrderExpired: OrderExpired(1, 0, 0, "the end"),
}
PAIRS = list(product(OrderStatus, EVENTS))


@pytest.mark.parametrize(
    ("status", "kind"),
    [pair for pair in PAIRS if EVENT_STATUS[pair[1]] not in ORDER_STATE_TABLE[pair[0]]],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_the_table_rejects_an_illegal_transition(status: OrderStatus, kind: type) -> None:
    order = a_working_order(status)
    before = (order.status, order.filled_amount, order.reason)
    with pytest.raises(OrderStateError) as caught:
        order.apply(EVENTS[kind])
    assert (caught.value.order_id, caught.value.current) == (1, status)
    assert caught.value.target is EVENT_STATUS[kind]
    assert f"cannot go from {status.value} to {EVENT_STATUS[kind].value}" in str(caught.value)
    assert (order.status, order.filled_amount, order.reason) == before  # nothing changed


@pytest.mark.parametrize(
    ("status", "kind"),
    [pair for pair in PAIRS if EVENT_STATUS[pair[1]] in ORDER_STATE_TABLE[pair[0]]],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_the_table_allows_each_listed_transition(status: OrderStatus, kind: type) -> None:
    order = a_working_order(status)
    order.apply(EVENTS[kind])
    assert order.status is EVENT_STATUS[kind]


def test_a_filled_order_cannot_fill_again_or_be_cancelled() -> None:
    order = a_working_order(OrderStatus.INITIALIZED)
    order.apply(EVENTS[OrderAccepted])
    order.apply(EVENTS[OrderFilled])
    for kind in (OrderFilled, OrderCancelled, OrderAccepted):
        with pytest.raises(OrderStateError):
            order.apply(EVENTS[kind])
    assert (order.status, order.filled_amount) == (OrderStatus.FILLED, 1.0)


# -- the fee model --------------------------------------------------------------------------


def test_the_fee_model_chooses_the_rate_from_the_liquidity_side() -> None:
    fees = FeeModel(RunConfig(fee_maker=0.0001, fee_taker=0.0007))
    assert (fees.rate(Liquidity.MAKER), fees.rate(Liquidity.TAKER)) == (0.0001, 0.0007)
