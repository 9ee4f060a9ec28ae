"""Cross margin: the whole wallet backs every futures position of the account, so each
position's liquidation price moves with the other positions' unrealised PnL and maintenance.

Binance, "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" (binance.com/en/
support/faq/b3c689c1f50a44cabb3a84e663b81d93), one-way mode:

    LP = (WB - TMM1 + UPNL1 + cumB - Side1 x Position1 x EP1)
         / (Position1 x MMR_B - Side1 x Position1)

WB is the wallet balance (here the free cash plus every position's margin: the margin came out
of the wallet), TMM1 and UPNL1 the maintenance margin and unrealised PnL of every *other*
position, cumB and MMR_B the position's own bracket (the one at the liquidation price's
notional, as in isolated mode). Isolated margin is the same formula with WB the position's
isolated margin and TMM1 = UPNL1 = 0, so `app.engine.margin.liquidation_price` computes both:
cross margin hands it WB - TMM1 + UPNL1 as the margin.

Worked example (tests/engine/test_cross_margin.py; docs/engine.md "Cross margin"): cash 300,
BTC long 10 at 100 with margin 100 and ETH long 10 at 50 with margin 100 (no fees, brackets
0.4 % cum 0), so WB = 100 + 100 + 100 = 300. With ETH at 50 (UPNL1 0, TMM1 500 x 0.004 = 2):
BTC's LP = (300 - 2 + 0 - 1,000) / (10 x 0.004 - 10) = 70.48; with ETH at 40 (UPNL1 -100,
TMM1 1.6): LP = (300 - 1.6 - 100 - 1,000) / -9.96 = 80.48. Isolated, BTC's LP is
(100 - 1,000) / -9.96 = 90.36 whatever ETH does.

The other positions are valued at their symbols' latest mark close before the bar (the order
of two symbols' moves inside one bar is unknown), set by the account with `mark_prices`.
A liquidation closes the position that reached its price at that price; what it leaves of
its maintenance margin there goes to the insurance fund (the clearance fee), and the price
loss beyond its own margin is paid from the shared wallet, as on Binance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol

from app.engine.config import RunConfig
from app.engine.margin import liquidation_price, maintenance_margin


class CrossPosition(Protocol):
    """What cross margin reads of a position (app.engine.portfolio.Position), and the one
    field it sets: the liquidation price."""

    side: int
    size: float
    entry_price: float
    margin: float
    liquidation_price: float

    def unrealized(self, price: float) -> float: ...


class CrossBook(Protocol):
    """What cross margin reads of a symbol's portfolio (app.engine.portfolio.Portfolio, which
    holds a CrossMargin: so this module names the shape, not the class)."""

    @property
    def symbol(self) -> str: ...

    @property
    def config(self) -> RunConfig: ...

    @property
    def cash(self) -> float: ...

    @property
    def position(self) -> CrossPosition: ...


class CrossMargin:
    """One account's cross-margin arithmetic over its symbols' portfolios."""

    __slots__ = ("_portfolios", "prices")

    def __init__(self, portfolios: Mapping[str, CrossBook], prices: Mapping[str, float]) -> None:
        self._portfolios = dict(portfolios)
        # each symbol's mark price the other positions are valued at (quote units)
        self.prices: dict[str, float] = dict(prices)

    def mark_prices(self, prices: Mapping[str, float]) -> None:
        """Value the positions at `prices` from now on, and move every liquidation price."""
        self.prices.update(prices)
        self.refresh()

    def wallet_balance(self) -> float:
        """Free cash plus every position's margin (quote units): Binance's WB."""
        first = next(iter(self._portfolios.values()))
        return first.cash + math.fsum(p.position.margin for p in self._portfolios.values())

    def _others(self, portfolio: CrossBook) -> tuple[float, float]:
        """(TMM1, UPNL1): the maintenance margin and unrealised PnL of every other position."""
        maintenance, unrealized = [], []
        for other in self._portfolios.values():
            position = other.position
            if other is portfolio or position.side == 0:
                continue
            price = self.prices[other.symbol]
            maintenance.append(maintenance_margin(position.size * price, other.config.margin_tiers))
            unrealized.append(position.unrealized(price))
        return math.fsum(maintenance), math.fsum(unrealized)

    def liquidation_price(self, portfolio: CrossBook) -> float:
        """The cross liquidation price of `portfolio`'s position; 0.0 when it has none or a
        long cannot be liquidated (the formula's price is not positive)."""
        position = portfolio.position
        if position.side == 0:
            return 0.0
        others_maintenance, others_unrealized = self._others(portfolio)
        backing = self.wallet_balance() - others_maintenance + others_unrealized
        return liquidation_price(
            position.side,
            position.size,
            position.entry_price,
            backing,
            portfolio.config.margin_tiers,
        )

    def refresh(self) -> None:
        """Every open position's liquidation price, after anything moved the wallet, a
        position or a price."""
        for portfolio in self._portfolios.values():
            position = portfolio.position
            position.liquidation_price = self.liquidation_price(portfolio)

    def margin_ratio(self, portfolio: CrossBook, price: float) -> float:
        """The account's maintenance margin over its margin balance (WB + every unrealised
        PnL), `portfolio`'s position valued at `price`; liquidation at 1.0."""
        maintenance, unrealized = self._others(portfolio)
        position = portfolio.position
        if position.side != 0:
            maintenance += maintenance_margin(position.size * price, portfolio.config.margin_tiers)
            unrealized += position.unrealized(price)
        balance = self.wallet_balance() + unrealized
        if maintenance <= 0:
            return 0.0
        return maintenance / balance if balance > 0 else math.inf

    def clearance_fee(self, portfolio: CrossBook) -> float:
        """What liquidating `portfolio`'s position at its liquidation price takes as its fee:
        its maintenance margin there (never negative)."""
        position = portfolio.position
        notional = position.size * position.liquidation_price
        return max(maintenance_margin(notional, portfolio.config.margin_tiers), 0.0)
