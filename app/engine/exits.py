"""Protective exits of the open position: the levels of liquidation, stop-loss, trailing stop
and take-profit, which of them a move of the price along a bar's path reaches first, and the
levels that make a bar worth checking at all.

Liquidation, stop-loss and the trailing stop are adverse (below a long, above a short), the
take-profit favourable. Moving against the position, the adverse level nearest the price fires
first; at one level, liquidation before the stops (a stop-loss at the liquidation price does not
protect). A stop-loss or trailing stop fills like a stop order (taker, slippage), a take-profit
like a limit order (maker), a liquidation at its price (`app.engine.liquidation`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

from app.engine.portfolio import Position
from app.engine.types import ExitReason

# Tie-break of exits met at one price: liquidation, then the stops, then the take-profit.
EXIT_RANK = {
    ExitReason.LIQUIDATION: 0,
    ExitReason.STOP_LOSS: 1,
    ExitReason.TRAILING_STOP: 1,
    ExitReason.TAKE_PROFIT: 2,
}


class ExitLevel(NamedTuple):
    """A protective exit of the position and the price at which it fires."""

    reason: ExitReason
    level: float


def has_exits(position: Position) -> bool:
    """True when the position has a stop-loss, take-profit or trailing stop set."""
    return not (
        position.stop_loss is None
        and position.take_profit is None
        and position.trailing_stop is None
        and position.trailing_percent is None
    )


def trailing_level(position: Position) -> float | None:
    """The trailing stop's current price, or None: the best price since it was set, less the
    distance (`trailing_stop`, quote price units) or the percent (`trailing_percent`) for a
    long; plus it for a short. The best price is the highest (long) or lowest (short) price the
    bar path reached since the fill that set it (app.engine.intrabar)."""
    if position.side == 0:
        return None
    best = position.best_price
    if position.trailing_stop is not None:
        return best - position.side * position.trailing_stop
    if position.trailing_percent is not None:
        return best * (1.0 - position.side * position.trailing_percent / 100.0)
    return None


def adverse_exits(position: Position) -> list[ExitLevel]:
    """The position's adverse exits (liquidation, stop-loss, trailing stop) that are set."""
    exits: list[ExitLevel] = []
    if position.side == 0:
        return exits
    if position.liquidation_price > 0.0 and not position.is_marked:  # else on the mark price
        exits.append(ExitLevel(ExitReason.LIQUIDATION, position.liquidation_price))
    if position.stop_loss is not None:
        exits.append(ExitLevel(ExitReason.STOP_LOSS, position.stop_loss))
    trail = trailing_level(position)
    if trail is not None and trail > 0.0:
        exits.append(ExitLevel(ExitReason.TRAILING_STOP, trail))
    return exits


def first_exit(position: Position, price: float, end: float) -> ExitLevel | None:
    """The exit the price meets first moving from `price` to `end` (both included), or None.

    Moving against the position: the adverse exit nearest `price` (liquidation first at one
    level); moving with it: the take-profit.
    """
    side = position.side
    if side == 0 or end == price:
        return None
    direction = 1 if end > price else -1
    if direction == -side:
        met = [e for e in adverse_exits(position) if _between(e.level, price, end, direction)]
        if not met:
            return None
        return min(met, key=lambda e: ((e.level - price) * direction, EXIT_RANK[e.reason]))
    target = position.take_profit
    if target is not None and _between(target, price, end, direction):
        return ExitLevel(ExitReason.TAKE_PROFIT, target)
    return None


def exit_at_open(position: Position, open_: float) -> ExitLevel | None:
    """The exit the bar's open is at or beyond (a gap through it), or None. No price traded
    inside a gap, so a gap through the liquidation price liquidates whatever stop lay before
    it; otherwise the stop nearest the previous price, else the take-profit, fills at the open.
    """
    side = position.side
    if side == 0:
        return None
    through = [e for e in adverse_exits(position) if (open_ - e.level) * side <= 0]
    if through:
        return min(through, key=lambda e: (EXIT_RANK[e.reason], -e.level * side))
    target = position.take_profit
    if target is not None and (open_ - target) * side >= 0:
        return ExitLevel(ExitReason.TAKE_PROFIT, target)
    return None


def _between(level: float, start: float, end: float, direction: int) -> bool:
    return (level - start) * direction >= 0 and (end - level) * direction >= 0


def trigger_levels(position: Position) -> tuple[float, float]:
    """(lower, upper): a bar whose low is at or below `lower` or whose high is at or above
    `upper` may fire an exit of `position` or move its trailing stop (a long's liquidation,
    stop-loss and trailing stop and a short's take-profit and best price are below; -inf/inf
    when there is no such level, or no position)."""
    lower, upper = -math.inf, math.inf
    if position.side == 0:
        return lower, upper
    if not has_exits(position):  # the common case: only a liquidation price, if any
        liq = position.liquidation_price
        if liq <= 0.0 or position.is_marked:
            return lower, upper
        return (liq, upper) if position.side > 0 else (lower, liq)
    adverse = [e.level for e in adverse_exits(position)]
    favourable = [] if position.take_profit is None else [position.take_profit]
    if trailing_level(position) is not None:
        favourable.append(position.best_price)  # a new best price moves the trailing stop
    if position.side > 0:
        return max(adverse, default=-math.inf), min(favourable, default=math.inf)
    return max(favourable, default=-math.inf), min(adverse, default=math.inf)
