"""Liquidation of the isolated futures position: when a traded price reaches its liquidation
price, the position is closed there and its margin is lost (`Portfolio.liquidate` holds the
arithmetic, `app.engine.margin` the liquidation-price formula and its source).

The broker asks at the bar's open (a gap through the liquidation price), inside the bar's range
(`app.engine.exits`, beside the stop-loss), before an order that would reduce the position fills
at a price beyond it, and at the close.
"""

from __future__ import annotations

from app.engine.events import PositionLiquidated
from app.engine.portfolio import Position


def is_reached(position: Position, price: float) -> bool:
    """True when `position` is open, can be liquidated, and `price` is at or beyond its
    liquidation price on the adverse side."""
    liq = position.liquidation_price
    return position.side != 0 and liq > 0.0 and (price - liq) * position.side <= 0


def notice(event: PositionLiquidated) -> str:
    """The run log's line for a liquidation."""
    return (
        f"position liquidated at {event.price:,.2f}: {event.size:g} "
        f"{event.side.value}, lost its margin ({event.loss:,.2f} incl. fees)"
    )
