"""Protective exits of the open position inside one bar: which of liquidation, stop-loss and
take-profit fires, at what price, and the levels that make a bar worth checking at all.

The adverse exits (liquidation, stop-loss) come first: when the bar's adverse extreme reaches
both, the one nearer the open fires (the path model of DESIGN.md: open, the extreme nearer the
open, the other extreme, close; when the path cannot tell, the adverse exit wins). Take-profit
is checked only when no adverse exit was reached. A stop-loss fills like a stop order (taker,
slippage applies), a take-profit like a limit order (maker), a liquidation at its price.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from app.engine import fills
from app.engine.events import Liquidity
from app.engine.portfolio import Position
from app.engine.types import ExitReason, OrderType


class Exit(NamedTuple):
    """A protective exit that fires in this bar (for a liquidation, `price` is the
    liquidation price and `order_type`/`liquidity` are unused)."""

    reason: ExitReason
    order_type: OrderType
    level: float
    price: float
    liquidity: Liquidity


def triggered_exit(
    position: Position, open_: float, high: float, low: float, slippage_bps: float
) -> Exit | None:
    """The exit of the open `position` that fires in a bar with this open/high/low, or None."""
    side = position.side
    adverse_extreme = low if side > 0 else high
    liq = position.liquidation_price if position.liquidation_price > 0.0 else None
    stop = position.stop_loss
    # The adverse level met first is the one nearest the open in the adverse direction.
    hit = [
        (level, kind)
        for level, kind in ((liq, ExitReason.LIQUIDATION), (stop, ExitReason.STOP_LOSS))
        if level is not None and (adverse_extreme - level) * side <= 0
    ]
    if hit:
        level, kind = max(hit, key=lambda item: item[0] * side)
        if kind is ExitReason.LIQUIDATION:
            return Exit(kind, OrderType.MARKET, level, level, Liquidity.TAKER)
        price = fills.stop_price(-side, level, open_, low, high, slippage_bps)
        if price is None:
            return None
        return Exit(kind, OrderType.STOP, level, price, Liquidity.TAKER)
    target = position.take_profit
    favourable_extreme = high if side > 0 else low
    if target is not None and (favourable_extreme - target) * side >= 0:
        price = fills.limit_price(-side, target, open_, low, high)
        if price is not None:
            return Exit(ExitReason.TAKE_PROFIT, OrderType.LIMIT, target, price, Liquidity.MAKER)
    return None


def trigger_levels(position: Position) -> tuple[float, float]:
    """(lower, upper): a bar whose low is at or below `lower` or whose high is at or above
    `upper` may fire an exit of `position` (a long's liquidation/stop-loss and a short's
    take-profit are below; -inf/inf when there is no such level, or no position)."""
    lower, upper = -math.inf, math.inf
    if position.side != 0:
        adverse = [
            level
            for level in (position.liquidation_price or None, position.stop_loss)
            if level is not None
        ]
        favourable = position.take_profit
        if position.side > 0:
            lower = max(adverse, default=-math.inf)
            upper = favourable if favourable is not None else math.inf
        else:
            upper = min(adverse, default=math.inf)
            lower = favourable if favourable is not None else -math.inf
    return lower, upper
