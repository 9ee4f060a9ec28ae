"""Orders: the engine's working order, the ticket a strategy holds, and the table of the status
changes an order may make (like nautilus_trader's `_ORDER_STATE_TABLE`).

An order's status changes only by applying one of its events (`Order.apply`), and only along
`ORDER_STATE_TABLE`; any other change raises `OrderStateError`, so a bug cannot quietly record,
say, a fill of a cancelled order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from app.engine.errors import OrderStateError
from app.engine.events import (
    OrderAccepted,
    OrderCancelled,
    OrderDenied,
    OrderEvent,
    OrderExpired,
    OrderFilled,
    OrderRejected,
)
from app.engine.types import OrderRecord, OrderSide, OrderStatus, OrderType, TimeInForce

_S = OrderStatus
_BUY, _SELL = OrderSide.BUY, OrderSide.SELL
# A named tuple's own constructor is a generated Python function around `tuple.__new__`; the
# records and tickets made for every order are built with `tuple.__new__` directly (about half
# the cost), from every field in the class's order.
_new_tuple = tuple.__new__
# status -> the statuses it may move to; a status with none is final.
ORDER_STATE_TABLE: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.INITIALIZED: frozenset({_S.PENDING, _S.DENIED}),
        _S.PENDING: frozenset({_S.FILLED, _S.CANCELLED, _S.REJECTED, _S.EXPIRED}),
        _S.FILLED: frozenset(),
        _S.CANCELLED: frozenset(),
        _S.REJECTED: frozenset(),
        _S.EXPIRED: frozenset(),
        _S.DENIED: frozenset(),
    }
)
# The status each kind of event moves an order to.
EVENT_STATUS: Mapping[type[OrderEvent], OrderStatus] = MappingProxyType(
    {
        OrderAccepted: _S.PENDING,
        OrderDenied: _S.DENIED,
        OrderFilled: _S.FILLED,
        OrderRejected: _S.REJECTED,
        OrderCancelled: _S.CANCELLED,
        OrderExpired: _S.EXPIRED,
    }
)


class OrderTicket(NamedTuple):
    """What `buy`/`sell` return to the strategy: a description it can read and `cancel`.

    Immutable. A named tuple rather than a frozen dataclass: one is made per order, and a
    frozen dataclass costs about four times as much to build.
    """

    id: int
    side: OrderSide
    type: OrderType
    amount: float
    limit: float | None
    stop: float | None
    leverage: float
    stop_loss: float | None
    take_profit: float | None
    trailing_stop: float | None = None
    trailing_percent: float | None = None
    reduce_only: bool = False
    post_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    oco_group: int | None = None


@dataclass(slots=True)
class Order:
    """A working order inside the engine (mutable; never handed to strategy code)."""

    id: int
    direction: int  # +1 buy, -1 sell
    type: OrderType
    amount: float  # base units; for a percentage close, resolved at fill
    limit: float | None
    stop: float | None
    leverage: float
    stop_loss: float | None
    take_profit: float | None
    created_index: int
    created_time: int
    close_percentage: float | None = None
    close_amount: float | None = None  # a close of this many base units (at most the position)
    trailing_stop: float | None = None  # distance in quote price units, for the position opened
    trailing_percent: float | None = None  # or percent of the best price since the entry
    reduce_only: bool = False
    post_only: bool = False
    time_in_force: TimeInForce = TimeInForce.GTC
    oco_group: int | None = None  # orders sharing a group: one filling cancels the others
    status: OrderStatus = OrderStatus.INITIALIZED  # changed only by `apply`
    reason: str = ""
    filled_time: int | None = None
    filled_price: float | None = None
    filled_amount: float = 0.0
    fee: float = 0.0
    symbol: str = ""  # the symbol it trades: set by its symbol's broker when it is accepted

    @property
    def side(self) -> OrderSide:
        return OrderSide.BUY if self.direction > 0 else OrderSide.SELL

    @property
    def is_close(self) -> bool:
        """A `close_position` order: its side and amount are resolved from the position at fill."""
        return self.close_percentage is not None or self.close_amount is not None

    @property
    def is_final(self) -> bool:
        return not ORDER_STATE_TABLE[self.status]

    def apply(self, event: OrderEvent) -> None:
        """Move to the status `event` stands for (through the state table) and take its data."""
        self.move_to(EVENT_STATUS[type(event)])
        if type(event) is OrderFilled:
            self.take_fill(event.time, event.price, event.amount, event.fee, event.note)
        elif type(event) is not OrderAccepted:
            self.reason = event.message  # type: ignore[union-attr]  # every other kind has one

    def move_to(self, target: OrderStatus) -> None:
        """Change the status to `target` along ORDER_STATE_TABLE; OrderStateError for a move
        the table forbids. `apply` and the order book's hot paths (which build an event only
        for a journal) both change the status here, so every change is checked."""
        if target not in ORDER_STATE_TABLE[self.status]:
            raise OrderStateError(self.id, self.status, target)
        self.status = target

    def fill(self, time: int, price: float, amount: float, fee: float, note: str) -> None:
        """What applying `OrderFilled(self.id, time, _, price, amount, fee, _, _, note)` does,
        without building the event."""
        self.move_to(_S.FILLED)
        self.take_fill(time, price, amount, fee, note)

    def take_fill(self, time: int, price: float, amount: float, fee: float, note: str) -> None:
        """Keep a fill's data (the status has moved to FILLED already)."""
        self.filled_time = time
        self.filled_price = price
        self.filled_amount = amount
        self.fee = fee
        self.reason = note

    def ticket(self) -> OrderTicket:
        return _new_tuple(
            OrderTicket,
            (
                self.id,
                _BUY if self.direction > 0 else _SELL,
                self.type,
                self.amount,
                self.limit,
                self.stop,
                self.leverage,
                self.stop_loss,
                self.take_profit,
                self.trailing_stop,
                self.trailing_percent,
                self.reduce_only,
                self.post_only,
                self.time_in_force,
                self.oco_group,
            ),
        )

    def describe(self) -> str:
        what = (
            f"close {self.close_percentage:g}%"
            if self.close_percentage is not None
            else f"close {self.close_amount:g}"
            if self.close_amount is not None
            else f"{self.side.value} {self.amount:g}"
        )
        price = (
            f" @ {self.limit:g}"
            if self.limit is not None
            else f" stop {self.stop:g}"
            if self.stop is not None
            else ""
        )
        return f"order #{self.id} ({what} {self.type.value}{price})"

    def record(self) -> OrderRecord:
        """The final state; a filled `close_position` order's amount is what it closed."""
        is_resolved_close = self.status is _S.FILLED and (
            self.close_percentage is not None or self.close_amount is not None
        )
        return _new_tuple(
            OrderRecord,
            (
                self.id,
                self.created_time,
                self.created_index,
                _BUY if self.direction > 0 else _SELL,
                self.type,
                self.filled_amount if is_resolved_close else self.amount,
                self.limit,
                self.stop,
                self.leverage,
                self.stop_loss,
                self.take_profit,
                self.status,
                self.filled_time,
                self.filled_price,
                self.filled_amount,
                self.fee,
                self.reason,
                self.symbol,
            ),
        )
