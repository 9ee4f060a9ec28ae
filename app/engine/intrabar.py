"""The path model of one bar: the order in which its prices are taken to have traded, and the
next order or protective exit a move along it reaches.

A bar (open, high, low, close) is walked as three straight legs: open -> the extreme nearer the
open -> the other extreme -> close. When both extremes are equally far from the open, the one
adverse to the position held at the open comes first (the low for a long or a flat account,
the high for a short): the pessimistic reading, as DESIGN.md asks when the path cannot tell.
Every price between two corners trades on the way, so each leg meets the levels inside it in
order of distance; entries, exits and liquidations are all found this way, which is what lets a
stop entry exit at its take-profit in the same bar, or a limit entry be stopped out later in it.
"""

from __future__ import annotations

from typing import NamedTuple

from app.engine.exits import EXIT_RANK, first_exit
from app.engine.orders import Order
from app.engine.portfolio import Position
from app.engine.types import ExitReason, OrderType

ORDER_RANK = 3  # resting orders after the position's exits at one price, in the order placed


def bar_path(
    open_: float, high: float, low: float, close: float, side: int
) -> tuple[float, float, float, float]:
    """The corners of the bar's path: (open, first extreme, second extreme, close).

    `side` is the position held at the open (+1 long, -1 short, 0 flat), used only to break a
    tie between extremes equally far from the open.
    """
    up, down = high - open_, open_ - low
    if up < down or (up == down and side < 0):
        return open_, high, low, close
    return open_, low, high, close


class Trigger(NamedTuple):
    """What fires next on a leg: a position exit (`reason`) or a resting order, at `level`."""

    level: float
    reason: ExitReason | None
    order: Order | None


def next_trigger(
    position: Position, working: list[Order], price: float, end: float
) -> Trigger | None:
    """The first exit or resting order met moving from `price` to `end` (both included).

    Nearest first; at one level, liquidation, then the stops, then the take-profit, then resting
    orders in the order they were placed. A buy limit and a sell stop are met moving down, a
    sell limit and a buy stop moving up.
    """
    if end == price:
        return None
    direction = 1 if end > price else -1
    best: tuple[float, int, int] | None = None
    found: Trigger | None = None
    exit_ = first_exit(position, price, end)
    if exit_ is not None:
        best = ((exit_.level - price) * direction, EXIT_RANK[exit_.reason], 0)
        found = Trigger(exit_.level, exit_.reason, None)
    for seq, order in enumerate(working):
        level = resting_level(order, direction)
        if level is None or (level - price) * direction < 0 or (end - level) * direction < 0:
            continue
        key = ((level - price) * direction, ORDER_RANK, seq)
        if best is None or key < best:
            best, found = key, Trigger(level, None, order)
    return found


def resting_level(order: Order, direction: int) -> float | None:
    """The price at which `order` fills when the price moves in `direction`, or None when that
    move cannot fill it (a limit is met moving against its side, a stop moving with it)."""
    if order.type is OrderType.LIMIT and order.limit is not None:
        return order.limit if direction == -order.direction else None
    if order.type is OrderType.STOP and order.stop is not None:
        return order.stop if direction == order.direction else None
    return None


def is_through_at_open(order: Order, open_: float) -> bool:
    """True when the bar opens at or beyond a resting order's price: it fills at the open."""
    if order.type is OrderType.LIMIT and order.limit is not None:
        return (open_ - order.limit) * order.direction <= 0
    if order.type is OrderType.STOP and order.stop is not None:
        return (open_ - order.stop) * order.direction >= 0
    return False
