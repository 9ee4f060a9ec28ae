"""The order book: the run's orders by id, the working ones in the order they were placed, the
final records in the order the orders ended, and the events that moved them.

Every status change goes through `apply`, which runs the order's state table, keeps the lists,
writes the run log's engine notice for the event (a refusal, a partial fill, a liquidation) and
hands the event to the run's journal when one was asked for. So the order records and the log
are derived from the events, and both say the same thing.
"""

from __future__ import annotations

from app.engine.caps import RecordCounter
from app.engine.events import (
    Event,
    FundingSettled,
    Liquidity,
    OrderAccepted,
    OrderDenied,
    OrderEvent,
    OrderFilled,
    OrderRejected,
    PositionLiquidated,
)
from app.engine.liquidation import notice as liquidation_notice
from app.engine.logbook import LogSink
from app.engine.orders import Order
from app.engine.types import LogLevel, OrderRecord, OrderStatus


class OrderBook:
    """The run's orders and their events; the broker and the strategy context place through it."""

    __slots__ = ("_journal", "_log", "_next_id", "_records", "finished", "working")

    def __init__(self, log: LogSink, records: RecordCounter, journal: list[Event] | None) -> None:
        self.working: list[Order] = []
        self.finished: list[OrderRecord] = []  # final records, in the order the orders ended
        self._log = log
        self._records = records
        self._journal = journal
        self._next_id = 1

    def next_order_id(self) -> int:
        """A new order's id: ids count up from 1, refused requests included."""
        order_id = self._next_id
        self._records.count_order(order_id)
        self._next_id += 1
        return order_id

    def find(self, order_id: int) -> Order | None:
        """The working order with this id, or None."""
        for order in self.working:
            if order.id == order_id:
                return order
        return None

    def accept(self, order: Order, time: int, index: int) -> None:
        """`order` passed its checks at bar `index` (open time `time`): it joins the working
        orders (the end of the list). The `OrderAccepted` event is built for a journal only."""
        order.move_to(OrderStatus.PENDING)
        if self._journal is not None:
            self._journal.append(OrderAccepted(order.id, time, index))
        self.working.append(order)

    def apply(self, order: Order, event: OrderEvent) -> None:
        """Move `order` by `event` to a final status (raises OrderStateError for a move its
        table forbids): it leaves the working orders and its record is kept."""
        was_working = order.status is OrderStatus.PENDING
        order.apply(event)
        if self._journal is not None:
            self._journal.append(event)
        self._finish(order, was_working)
        if type(event) is not OrderFilled or event.rest_refused is not None:
            message = order_notice(order, event)
            if message is not None:
                self._log.write(LogLevel.WARNING, message)

    def fill(
        self,
        order: Order,
        time: int,
        index: int,
        price: float,
        amount: float,
        fee: float,
        liquidity: Liquidity | None,
        note: str = "",
    ) -> None:
        """`apply(order, OrderFilled(...))` for a fill of all that was asked (no part refused),
        the broker's hot path: the event is built only for a journal, and such a fill writes
        no log line."""
        order.fill(time, price, amount, fee, note)
        if self._journal is not None:
            self._journal.append(
                OrderFilled(order.id, time, index, price, amount, fee, liquidity, None, note)
            )
        self.working.remove(order)  # `_finish` of a working order, inline: once per fill
        self.finished.append(order.record())

    def _finish(self, order: Order, was_working: bool) -> None:
        """`order` reached a final status: it leaves the working orders, its record is kept."""
        if was_working:
            self.working.remove(order)
        self.finished.append(order.record())

    def settled(self, event: PositionLiquidated | FundingSettled) -> None:
        """Record an event of the position (not of an order)."""
        if self._journal is not None:
            self._journal.append(event)
        if type(event) is PositionLiquidated:
            self._log.write(LogLevel.WARNING, liquidation_notice(event))


def order_notice(order: Order, event: OrderEvent) -> str | None:
    """The run log's line for an order event, when it deserves one (a refusal of any part)."""
    if type(event) is OrderDenied:
        verb = "close_position" if order.is_close else order.side.value
        return f"{verb} refused: {event.message}"
    if type(event) is OrderRejected:
        return f"{order.describe()} refused: {event.message}"
    if type(event) is OrderFilled and event.rest_refused is not None:
        return f"{order.describe()} partly filled, rest refused: {event.note}"
    return None
