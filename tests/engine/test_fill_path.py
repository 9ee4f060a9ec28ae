"""The per-order fast paths keep every number and record of the general ones: records and
tickets built without their named tuples' constructors hold every field in order, the order
book's fill without an event moves the order through the same state table, and the bisected
tier table gives the scanned one's brackets and liquidation prices."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from app.engine import BINANCE_BTCUSDT_TIERS
from app.engine.caps import RecordCounter
from app.engine.errors import OrderStateError
from app.engine.events import Event, Liquidity, OrderAccepted, OrderFilled
from app.engine.feed import Cursor
from app.engine.logbook import LogSink
from app.engine.margin import (
    MarginTier,
    TierBrackets,
    _tier_at,
    floors_of,
    liquidation_price,
    tier_for,
)
from app.engine.order_book import OrderBook
from app.engine.orders import Order, OrderTicket
from app.engine.types import (
    Mode,
    OrderRecord,
    OrderSide,
    OrderStatus,
    OrderType,
    TimeInForce,
)

from .scripted import MarketBuilder, run_script


def every_field_order() -> Order:
    """An order with every field set to a value no other field has."""
    return Order(
        id=7,
        direction=-1,
        type=OrderType.LIMIT,
        amount=2.5,
        limit=101.0,
        stop=None,
        leverage=3.0,
        stop_loss=110.0,
        take_profit=90.0,
        created_index=4,
        created_time=400,
        trailing_stop=1.5,
        trailing_percent=None,
        reduce_only=True,
        post_only=True,
        time_in_force=TimeInForce.GTC,
        oco_group=5,
        status=OrderStatus.CANCELLED,
        reason="why",
        filled_time=None,
        filled_price=None,
        filled_amount=0.0,
        fee=0.25,
        symbol="ETHUSDT",
    )


def test_a_record_holds_every_field_in_order() -> None:
    record = every_field_order().record()
    assert type(record) is OrderRecord and len(record) == len(OrderRecord._fields)
    assert record == OrderRecord(
        id=7,
        created_time=400,
        created_index=4,
        side=OrderSide.SELL,
        type=OrderType.LIMIT,
        amount=2.5,
        limit_price=101.0,
        stop_price=None,
        leverage=3.0,
        stop_loss=110.0,
        take_profit=90.0,
        status=OrderStatus.CANCELLED,
        filled_time=None,
        filled_price=None,
        filled_amount=0.0,
        fee=0.25,
        reason="why",
        symbol="ETHUSDT",
    )


def test_a_filled_close_records_what_it_closed() -> None:
    order = Order(3, -1, OrderType.MARKET, 0.0, None, None, 1.0, None, None, 1, 10)
    order.close_percentage = 50.0
    order.status = OrderStatus.PENDING
    order.fill(20, 99.0, 0.75, 0.1, "")
    record = order.record()
    assert (record.amount, record.filled_amount, record.status) == (0.75, 0.75, "filled")


def test_a_ticket_holds_every_field_in_order() -> None:
    ticket = every_field_order().ticket()
    assert type(ticket) is OrderTicket and len(ticket) == len(OrderTicket._fields)
    assert ticket == OrderTicket(
        id=7,
        side=OrderSide.SELL,
        type=OrderType.LIMIT,
        amount=2.5,
        limit=101.0,
        stop=None,
        leverage=3.0,
        stop_loss=110.0,
        take_profit=90.0,
        trailing_stop=1.5,
        trailing_percent=None,
        reduce_only=True,
        post_only=True,
        time_in_force=TimeInForce.GTC,
        oco_group=5,
    )


def a_book(journal: list[Event] | None) -> OrderBook:
    cursor = Cursor()
    log = LogSink(100, cursor, np.zeros(1, dtype=np.int64), 0)
    return OrderBook(log, RecordCounter(max_orders=100, max_trades=100), journal)


def test_the_books_fill_is_applying_the_filled_event() -> None:
    journal: list[Event] = []
    fast, general = a_book(journal), a_book(None)
    orders = [Order(1, 1, OrderType.MARKET, 1.0, None, None, 1.0, None, None, 0, 0) for _ in "ab"]
    fast.accept(orders[0], 0, 0)
    general.accept(orders[1], 0, 0)
    fast.fill(orders[0], 60, 1, 101.0, 1.0, 0.05, Liquidity.TAKER, "note")
    event = OrderFilled(1, 60, 1, 101.0, 1.0, 0.05, Liquidity.TAKER, None, "note")
    general.apply(orders[1], event)
    assert fast.finished == general.finished and not fast.working and not general.working
    assert journal == [OrderAccepted(1, 0, 0), event]


def test_the_books_fill_goes_through_the_state_table() -> None:
    book = a_book(None)
    order = Order(1, 1, OrderType.MARKET, 1.0, None, None, 1.0, None, None, 0, 0)
    with pytest.raises(OrderStateError):  # never accepted: INITIALIZED cannot fill
        book.fill(order, 60, 1, 101.0, 1.0, 0.0, Liquidity.TAKER)
    book.accept(order, 0, 0)
    with pytest.raises(OrderStateError):
        book.accept(order, 0, 0)  # PENDING cannot be accepted again
    book.fill(order, 60, 1, 101.0, 1.0, 0.0, Liquidity.TAKER)
    with pytest.raises(OrderStateError):
        order.fill(120, 102.0, 1.0, 0.0, "")  # a filled order is final


def scanned_liquidation_price(
    side: int, size: float, entry: float, margin: float, tiers: tuple[MarginTier, ...]
) -> float:
    """The search as it was written before the table was bisected (tier_for at each step)."""
    tier = tier_for(size * entry, tiers)

    def in_tier(tier: MarginTier) -> float:
        numerator = margin + tier.maintenance_amount - side * size * entry
        return numerator / (size * tier.maintenance_rate - side * size)

    price = in_tier(tier)
    for _ in range(len(tiers)):
        at_price = tier_for(size * max(price, 0.0), tiers)
        if at_price is tier:
            break
        tier = at_price
        price = in_tier(tier)
    if side > 0 and price <= 0:
        return 0.0
    return price if math.isfinite(price) else 0.0


def test_the_bisected_table_finds_the_scanned_bracket() -> None:
    floors = floors_of(BINANCE_BTCUSDT_TIERS)
    edges = [tier.notional_floor for tier in BINANCE_BTCUSDT_TIERS]
    probes = [-1.0, 0.0, math.inf, -math.inf, math.nan, 1e30]
    probes += [edge + step for edge in edges for step in (-0.01, 0.0, 0.01)]
    rng = random.Random(11)
    probes += [rng.uniform(0.0, 4e8) for _ in range(2_000)]
    for notional in probes:
        expected = tier_for(notional, BINANCE_BTCUSDT_TIERS)
        assert _tier_at(notional, BINANCE_BTCUSDT_TIERS, floors) is expected, notional


def test_a_table_whose_floors_do_not_rise_is_scanned() -> None:
    unordered = (MarginTier(0.0, 0.01, 50.0), MarginTier(0.0, 0.02, 20.0))
    assert floors_of(unordered) is None
    assert _tier_at(5.0, unordered, None) is tier_for(5.0, unordered)
    brackets = TierBrackets(unordered)
    assert brackets.liquidation_price(-1, 1.0, 100.0, 10.0) == scanned_liquidation_price(
        -1, 1.0, 100.0, 10.0, unordered
    )


def test_the_bisected_liquidation_price_is_the_scanned_one() -> None:
    brackets = TierBrackets(BINANCE_BTCUSDT_TIERS)
    rng = random.Random(5)
    for _ in range(3_000):
        side = rng.choice((1, -1))
        size = 10 ** rng.uniform(-3.0, 4.0)
        entry = rng.uniform(100.0, 100_000.0)
        margin = size * entry / rng.uniform(1.0, 125.0) * rng.uniform(0.5, 1.5)
        expected = scanned_liquidation_price(side, size, entry, margin, BINANCE_BTCUSDT_TIERS)
        assert brackets.liquidation_price(side, size, entry, margin) == expected
        assert liquidation_price(side, size, entry, margin, BINANCE_BTCUSDT_TIERS) == expected


def test_a_reversal_records_a_full_trade_and_both_orders(make_market: MarketBuilder) -> None:
    market = make_market([100.0, 101.0, 102.0, 99.0, 98.0, 97.0])
    script = {
        0: lambda s: s.buy(1.0, leverage=2),
        2: lambda s: s.sell(3.0, leverage=2),  # closes the long, opens a short of 2
    }
    result, _ = run_script(market, script, mode=Mode.FUTURES, leverage_max=10.0)
    long_trade = result.trades[0]
    assert len(long_trade) == len(type(long_trade)._fields)
    assert (long_trade.side, long_trade.size, long_trade.exit_reason) == ("long", 1.0, "signal")
    filled = [order for order in result.orders if order.status is OrderStatus.FILLED]
    assert [order.filled_amount for order in filled[:2]] == [1.0, 3.0]
