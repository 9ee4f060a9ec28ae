"""Per-run caps on the records a run makes (orders, trades), counted where they are made.

A strategy that places and cancels millions of orders stays inside its worker's memory limit,
but every record still travels to the parent, is decoded there and written to the database.
The caps stop such a run at the first record past them, deterministically (the count, not
memory or time, decides), so a rerun stops at the same record. The first excess is kept: a
strategy that catches the error (`except Exception`) and carries on still has its run stopped
at the next progress report and at the end.
"""

from __future__ import annotations

from typing import Final

from app.engine.errors import RecordLimitExceeded

DEFAULT_MAX_ORDERS: Final = 1_000_000
DEFAULT_MAX_TRADES: Final = 1_000_000


class RecordCounter:
    """Checks a run's order and trade counts against its caps; remembers the first excess."""

    __slots__ = ("exceeded", "max_orders", "max_trades")

    def __init__(self, *, max_orders: int, max_trades: int) -> None:
        self.max_orders = max_orders
        self.max_trades = max_trades
        self.exceeded: tuple[str, int] | None = None  # (record, cap) of the first excess

    def count_order(self, order_id: int) -> None:
        """Called with each new order's id (ids count up from 1): refuses the one past the cap."""
        if order_id > self.max_orders:
            self._refuse("orders", self.max_orders)

    def count_trades(self, total: int) -> None:
        """Called with the run's trade count after trades were added."""
        if total > self.max_trades:
            self._refuse("trades", self.max_trades)

    def raise_if_exceeded(self) -> None:
        """Raise the first excess again (a strategy may have caught it and carried on)."""
        if self.exceeded is not None:
            raise RecordLimitExceeded(*self.exceeded)

    def _refuse(self, record: str, limit: int) -> None:
        if self.exceeded is None:
            self.exceeded = (record, limit)
        raise RecordLimitExceeded(record, limit)  # a fresh one: a caught one keeps no frames
