"""Futures margin arithmetic: maintenance tiers, liquidation price and margin ratio.

Formulas follow Binance's published rules for USDⓈ-M (USDT-margined linear) perpetuals in
one-way mode with isolated margin:
- "Leverage and Margin of USDⓈ-M Futures" (binance.com/en/support/faq/360033162192):
  maintenance margin = notional x maintenance-margin rate - maintenance amount, with the bracket
  chosen by position notional; maintenance amount of bracket k is
  amount(k-1) + floor(k) x (rate(k) - rate(k-1)).
- "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts" (binance.com/en/support/faq/
  b3c689c1f50a44cabb3a84e663b81d93): LP = (WB + cum - side x Q x EP) / (Q x MMR - side x Q),
  where, for an isolated position, WB is the position's isolated margin, cum the maintenance amount,
  side +1 long / -1 short, Q the absolute size and EP the entry price.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

from app.engine.errors import ConfigError


@dataclass(frozen=True, slots=True)
class MarginTier:
    """One notional bracket: from `notional_floor` (quote units) up to the next tier's floor."""

    notional_floor: float
    maintenance_rate: float  # fraction, e.g. 0.004 = 0.4 %
    max_leverage: float
    maintenance_amount: float = 0.0  # derived by `build_tiers`; quote units


def build_tiers(rows: tuple[tuple[float, float, float], ...]) -> tuple[MarginTier, ...]:
    """Make a tier table from (notional_floor, maintenance_rate, max_leverage) rows.

    The maintenance amount of each tier is derived so the maintenance margin is continuous in
    notional, as Binance publishes it.
    """
    if not rows:
        raise ConfigError("margin_tiers", "the tier table is empty")
    tiers: list[MarginTier] = []
    amount = 0.0
    previous_rate = 0.0
    for position, (floor, rate, max_leverage) in enumerate(rows):
        if position == 0 and floor != 0:
            raise ConfigError("margin_tiers", "the first tier must start at notional 0")
        if tiers and floor <= tiers[-1].notional_floor:
            raise ConfigError("margin_tiers", f"tier {position + 1} floors must increase")
        if not (0 < rate < 1) or not (1 <= max_leverage <= 125):
            raise ConfigError(
                "margin_tiers",
                f"tier {position + 1}: rate must be in (0, 1) and max leverage in [1, 125]",
            )
        amount += floor * (rate - previous_rate)
        tiers.append(MarginTier(float(floor), float(rate), float(max_leverage), amount))
        previous_rate = rate
    return tuple(tiers)


# Binance BTCUSDT USDⓈ-M perpetual brackets (notional floor in USDT, maintenance rate, max
# leverage): freqtrade's snapshot of 2023-04-16 (issue 14); maintenance amounts are derived.
# The engine's default when a RunConfig names no table; runs prepared by app.runs use the
# symbol's latest dated table (app/data/tier_tables, app.data.tiers) instead.
BINANCE_BTCUSDT_TIERS: tuple[MarginTier, ...] = build_tiers(
    (
        (0, 0.004, 125),
        (50_000, 0.005, 100),
        (250_000, 0.01, 50),
        (3_000_000, 0.025, 20),
        (15_000_000, 0.05, 10),
        (30_000_000, 0.10, 5),
        (80_000_000, 0.125, 4),
        (100_000_000, 0.15, 3),
        (200_000_000, 0.25, 2),
        (300_000_000, 0.50, 1),
    )
)


@dataclass(frozen=True, slots=True)
class SymbolTierTable:
    """The tier table one symbol of a run over several symbols uses (the run's own
    `margin_tiers`/`tier_table` are the primary symbol's): which table, its brackets, and its
    largest position (None: no cap recorded)."""

    symbol: str
    table: str
    tiers: tuple[MarginTier, ...]
    notional_cap: float | None = None


DEFAULT_TIER_TABLE = "binance-usdtm/BTCUSDT@2023-04-16 (the engine's default brackets)"
"""What `RunConfig.tier_table` says when the config holds BINANCE_BTCUSDT_TIERS by default."""


def tier_for(notional: float, tiers: tuple[MarginTier, ...]) -> MarginTier:
    """The bracket whose range holds `notional` (absolute, quote units)."""
    chosen = tiers[0]
    for tier in tiers:
        if notional >= tier.notional_floor:
            chosen = tier
        else:
            break
    return chosen


def floors_of(tiers: tuple[MarginTier, ...]) -> tuple[float, ...] | None:
    """The brackets' notional floors when they rise strictly (as `build_tiers` and tier tables
    make them): what `_tier_at` bisects; None for a table given otherwise (scanned instead)."""
    floors = tuple(tier.notional_floor for tier in tiers)
    if all(low < high for low, high in pairwise(floors)):
        return floors
    return None


def _tier_at(
    notional: float, tiers: tuple[MarginTier, ...], floors: tuple[float, ...] | None
) -> MarginTier:
    """`tier_for(notional, tiers)`, by bisection of `floors` (`floors_of(tiers)`)."""
    if floors is None or notional != notional:  # NaN: tier_for stops at the first bracket
        return tier_for(notional, tiers)
    index = bisect_right(floors, notional) - 1
    return tiers[index] if index > 0 else tiers[0]


class TierBrackets:
    """A run's tier table with its floors worked out once, for the liquidation price set again
    at every fill (the portfolio's; same numbers as `liquidation_price`)."""

    __slots__ = ("floors", "tiers")

    def __init__(self, tiers: tuple[MarginTier, ...]) -> None:
        self.tiers = tiers
        self.floors = floors_of(tiers)

    def liquidation_price(self, side: int, size: float, entry_price: float, margin: float) -> float:
        """`liquidation_price(side, size, entry_price, margin, self.tiers)`."""
        return _solve_liquidation_price(side, size, entry_price, margin, self.tiers, self.floors)


def maintenance_margin(notional: float, tiers: tuple[MarginTier, ...]) -> float:
    """Maintenance margin in quote units for a position of this absolute notional."""
    tier = tier_for(notional, tiers)
    return max(notional * tier.maintenance_rate - tier.maintenance_amount, 0.0)


def _liquidation_price_in_tier(
    side: int, size: float, entry_price: float, margin: float, tier: MarginTier
) -> float:
    numerator = margin + tier.maintenance_amount - side * size * entry_price
    denominator = size * tier.maintenance_rate - side * size
    return numerator / denominator


def liquidation_price(
    side: int, size: float, entry_price: float, margin: float, tiers: tuple[MarginTier, ...]
) -> float:
    """Isolated one-way liquidation price; 0.0 when a long can never be liquidated.

    `side` is +1 for long and -1 for short, `size` the absolute base amount, `margin` the
    position's isolated margin in quote units. The bracket is the one at the liquidation price's
    notional: we start from the entry notional's tier and move to the tier that the resulting
    price falls in until it is consistent (Binance: "the maintenance margin rate of the tier at
    the liquidation price").
    """
    return _solve_liquidation_price(side, size, entry_price, margin, tiers, None)  # scanned


def _solve_liquidation_price(
    side: int,
    size: float,
    entry_price: float,
    margin: float,
    tiers: tuple[MarginTier, ...],
    floors: tuple[float, ...] | None,
) -> float:
    """`liquidation_price`'s search; `floors` (`floors_of(tiers)`) lets it bisect the table,
    None scans it (the same brackets either way)."""
    if size <= 0:
        return 0.0
    tier = _tier_at(size * entry_price, tiers, floors)
    price = _liquidation_price_in_tier(side, size, entry_price, margin, tier)
    for _ in range(len(tiers)):
        at_price = _tier_at(size * max(price, 0.0), tiers, floors)
        if at_price is tier:
            break
        tier = at_price
        price = _liquidation_price_in_tier(side, size, entry_price, margin, tier)
    if side > 0 and price <= 0:
        return 0.0
    return price if math.isfinite(price) else 0.0


def margin_ratio(
    notional: float, isolated_margin: float, unrealized_pnl: float, tiers: tuple[MarginTier, ...]
) -> float:
    """Maintenance margin over margin balance; the position is liquidated at 1.0 (100 %)."""
    balance = isolated_margin + unrealized_pnl
    if notional <= 0:
        return 0.0
    if balance <= 0:
        return math.inf
    return maintenance_margin(notional, tiers) / balance
