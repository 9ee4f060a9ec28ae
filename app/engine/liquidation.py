"""Liquidation of the isolated futures position: when the price reaches its liquidation
price, the position is closed there and its margin is lost (`Portfolio.liquidate` holds the
arithmetic, `app.engine.margin` the liquidation-price formula and its source).

Which price: Binance liquidates on the mark price ("Mark Price in USDⓈ-M Futures",
binance.com/en/support/faq/360033525071). Without a mark series in the data, the traded price
stands in: the broker asks at the bar's open (a gap through the liquidation price), along the
bar's path (`app.engine.exits`, beside the stop-loss), and before an order that would reduce
the position fills at a price beyond it. With a mark series (`MarketData.has_mark`) the traded
path never liquidates; the broker asks at the mark's open, then over the mark bar's range
before anything else on the bar's path (the order of two series inside one bar is unknown, so
the adverse case is taken). Fills stay at traded prices either way.
"""

from __future__ import annotations

from app.engine.events import PositionLiquidated
from app.engine.feed import MarketData
from app.engine.portfolio import Position
from app.engine.results import PRICE_SOURCE


def is_reached(position: Position, price: float) -> bool:
    """True when `position` is open, can be liquidated, and the traded `price` is at or beyond
    its liquidation price on the adverse side (never for a position watched on the mark)."""
    return not position.is_marked and is_mark_reached(position, price)


def is_mark_reached(position: Position, price: float) -> bool:
    """True when `position` is open, can be liquidated, and `price` (the mark price where
    the data has one) is at or beyond its liquidation price on the adverse side."""
    liq = position.liquidation_price
    return position.side != 0 and liq > 0.0 and (price - liq) * position.side <= 0


def notice(event: PositionLiquidated) -> str:
    """The run log's line for a liquidation."""
    return (
        f"position liquidated at {event.price:,.2f}: {event.size:g} "
        f"{event.side.value}, lost its margin ({event.loss:,.2f} incl. fees)"
    )


MARK_PRICE_SOURCE = (
    "mark price (the data's mark-price series): liquidation, funding and the marked-to-market "
    "equity use it; fills use the trade price"
)


def price_source(market: MarketData) -> str:
    """What the results say about the price liquidation, funding and the equity used."""
    if not market.has_mark:
        return PRICE_SOURCE
    if market.mark_filled_bars:
        return (
            f"{MARK_PRICE_SOURCE}; the trade price stood in on {market.mark_filled_bars:,} "
            "bar(s) the mark series lacks"
        )
    return MARK_PRICE_SOURCE
