"""Fill prices: where an order or a protective exit executes inside one bar.

Rules (DESIGN.md): orders placed at bar t fill at bar t+1; a market order at its open plus
slippage; a limit or stop when the bar's range reaches its price, at the open when the bar
gaps through it. Slippage always moves the price against the trader and never outside the bar's
range, so no fill is ever printed at a price the bar did not trade.
"""

from __future__ import annotations


def slipped(price: float, direction: int, slippage_bps: float, low: float, high: float) -> float:
    """Move `price` against a buyer (+1) or seller (-1) by `slippage_bps`, kept inside the bar."""
    moved = price * (1.0 + direction * slippage_bps / 10_000.0)
    return min(max(moved, low), high)


def market_price(
    direction: int, open_: float, low: float, high: float, slippage_bps: float
) -> float:
    """A market order's fill at the bar's open (taker: slippage applies)."""
    return slipped(open_, direction, slippage_bps, low, high)


def limit_price(
    direction: int, limit: float, open_: float, low: float, high: float
) -> float | None:
    """A resting limit order's fill (maker: no slippage), or None if the bar never reached it.

    A buy limit fills when the low reaches the limit, at the open when the bar opens below it;
    a sell limit mirrors that.
    """
    if direction > 0:
        if open_ <= limit:
            return open_
        return limit if low <= limit else None
    if open_ >= limit:
        return open_
    return limit if high >= limit else None


def stop_price(
    direction: int, stop: float, open_: float, low: float, high: float, slippage_bps: float
) -> float | None:
    """A stop order's fill once triggered (taker: slippage applies), or None if not triggered.

    A buy stop triggers when the high reaches the stop, at the open when the bar opens above it;
    a sell stop mirrors that.
    """
    if direction > 0:
        if open_ >= stop:
            base = open_
        elif high >= stop:
            base = stop
        else:
            return None
    elif open_ <= stop:
        base = open_
    elif low <= stop:
        base = stop
    else:
        return None
    return slipped(base, direction, slippage_bps, low, high)
