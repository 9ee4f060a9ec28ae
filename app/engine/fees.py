"""The fee model: a fill's fee rate chosen once, from the liquidity side it took.

As in nautilus_trader's `MakerTakerFeeModel`: a fill that rested in the book (a limit order, a
take-profit) is a maker and pays `fee_maker`; one that crossed it (a market or stop order, a
stop-loss, the end-of-data close) is a taker and pays `fee_taker`. The fee itself is the fill's
notional times that rate (`app.engine.portfolio`); a liquidation pays no fee, its clearance fee
is the margin left at the liquidation price.
"""

from __future__ import annotations

from app.engine.config import RunConfig
from app.engine.events import Liquidity
from app.engine.types import OrderType

LIQUIDITY_OF: dict[OrderType, Liquidity] = {
    OrderType.MARKET: Liquidity.TAKER,
    OrderType.LIMIT: Liquidity.MAKER,
    OrderType.STOP: Liquidity.TAKER,
}


class FeeModel:
    """The run's maker and taker rates (fractions of notional: 0.0005 = 0.05 %)."""

    __slots__ = ("maker", "taker")

    def __init__(self, config: RunConfig) -> None:
        self.maker = config.fee_maker
        self.taker = config.fee_taker

    def rate(self, liquidity: Liquidity) -> float:
        """The fee rate of a fill on `liquidity`'s side of the book."""
        return self.maker if liquidity is Liquidity.MAKER else self.taker
