"""Fill prices: where an order or a protective exit executes inside one bar.

Rules (DESIGN.md), with the bar's path from `app.engine.intrabar`: orders placed at bar t fill
at bar t+1. A market order fills at its open plus slippage. A limit (and a take-profit) fills at
its price where the path reaches it, or at the open when the bar opens at or beyond it (a gap:
the better open), with no slippage (maker). A stop (a stop entry, a stop-loss, a trailing stop)
fills where the path reaches its price, or at the open it gapped to, plus slippage (taker).
Slippage always moves the price against the trader and never outside the bar's range, so no
order fill is ever printed at a price the bar did not trade. (A liquidation is booked at its
liquidation price even when the open gapped through it: `app.engine.liquidation`.)
"""

from __future__ import annotations


def slipped(price: float, direction: int, slippage_bps: float, low: float, high: float) -> float:
    """Move `price` against a buyer (+1) or seller (-1) by `slippage_bps`, kept inside the bar."""
    moved = price * (1.0 + direction * slippage_bps / 10_000.0)
    return min(max(moved, low), high)
