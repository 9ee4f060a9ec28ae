"""Worked examples: Binance maintenance tiers and the isolated liquidation price.

Binance (USDⓈ-M, one-way, isolated): LP = (WB + cum - side x Q x EP) / (Q x MMR - side x Q),
WB the isolated margin, cum the maintenance amount of the tier at the liquidation price's
notional, side +1 long / -1 short. BTCUSDT tiers (floor, MMR, max leverage, cum):
  0 0.4 % 125x 0 | 50k 0.5 % 100x 50 | 250k 1 % 50x 1,300 | 3M 2.5 % 20x 46,300 | 15M 5 % 10x
  421,300 | 30M 10 % 5x 1,921,300 | 80M 12.5 % 4x 3,921,300 | 100M 15 % 3x 6,421,300 | 200M
  25 % 2x 26,421,300 | 300M 50 % 1x 101,421,300.
"""

from __future__ import annotations

import pytest

from app.engine import BINANCE_BTCUSDT_TIERS, ConfigError, build_tiers, liquidation_price
from app.engine.margin import maintenance_margin, tier_for

from .scripted import MarketBuilder, run_script


def test_btcusdt_maintenance_amounts_match_binance_published_cum() -> None:
    # cum(k) = cum(k-1) + floor(k) x (MMR(k) - MMR(k-1)), e.g. 50 = 50,000 x 0.001 and
    # 1,300 = 50 + 250,000 x 0.005.
    amounts = [tier.maintenance_amount for tier in BINANCE_BTCUSDT_TIERS]
    expected = [
        0,
        50,
        1_300,
        46_300,
        421_300,
        1_921_300,
        3_921_300,
        6_421_300,
        26_421_300,
        101_421_300,
    ]
    assert amounts == pytest.approx(expected)


@pytest.mark.parametrize(
    ("notional", "maintenance"),
    [
        (30_000.0, 120.0),  # 30,000 x 0.004 - 0
        (60_000.0, 250.0),  # 60,000 x 0.005 - 50
        (300_000.0, 1_700.0),  # 300,000 x 0.01 - 1,300
        (5_000_000.0, 78_700.0),  # 5,000,000 x 0.025 - 46,300
    ],
)
def test_maintenance_margin_is_notional_times_rate_minus_cum(
    notional: float, maintenance: float
) -> None:
    assert maintenance_margin(notional, BINANCE_BTCUSDT_TIERS) == pytest.approx(maintenance)


def test_tier_is_chosen_by_notional_with_floors_inclusive() -> None:
    assert tier_for(49_999.99, BINANCE_BTCUSDT_TIERS).maintenance_rate == 0.004
    assert tier_for(50_000.0, BINANCE_BTCUSDT_TIERS).maintenance_rate == 0.005


LIQUIDATION_CASES = [
    # long 1 @ 30,000, 10x: WB 3,000, tier 1 at LP: (3,000 + 0 - 30,000) / (0.004 - 1)
    # = 27,108.4337 (notional 27,108 < 50k: tier 1 holds)
    pytest.param(1, 1.0, 30_000.0, 3_000.0, 27_108.433734939759, id="long-10x-tier1"),
    # short 1 @ 30,000, 10x: (3,000 + 30,000) / (0.004 + 1) = 32,868.5259
    pytest.param(-1, 1.0, 30_000.0, 3_000.0, 32_868.525896414343, id="short-10x-tier1"),
    # long 2 @ 30,000 (60k, tier 2), 20x: WB 3,000: (3,000 + 50 - 60,000) / (0.01 - 2)
    # = 28,618.0905 (notional 57,236: tier 2 holds)
    pytest.param(1, 2.0, 30_000.0, 3_000.0, 28_618.090452261307, id="long-20x-tier2"),
    # long 2 @ 30,000, 2x, WB 30,000: the entry tier 2 gives (30,000 + 50 - 60,000) / -1.99
    # = 15,050.25, notional 30,100 -> tier 1 at that price: (30,000 - 60,000) / (0.008 - 2)
    # = 15,060.2410 (notional 30,120: tier 1 holds)
    pytest.param(1, 2.0, 30_000.0, 30_000.0, 15_060.240963855422, id="long-2x-tier-falls"),
    # short 1.8 @ 25,000 (45k, tier 1), 2x, WB 22,500: tier 1 gives (22,500 + 45,000) /
    # 1.8072 = 37,350.60, notional 67,231 -> tier 2: (22,500 + 50 + 45,000) / 1.809
    # = 37,341.0724 (notional 67,214: tier 2 holds)
    pytest.param(-1, 1.8, 25_000.0, 22_500.0, 37_341.072415699281, id="short-2x-tier-rises"),
    # long 100 @ 30,000 (3M, tier 4), 20x, WB 150,000: tier 4 gives (150,000 + 46,300 -
    # 3,000,000) / -97.5 = 28,755.90, notional 2,875,590 -> tier 3: (150,000 + 1,300 -
    # 3,000,000) / (1 - 100) = 28,774.7475 (tier 3 holds)
    pytest.param(1, 100.0, 30_000.0, 150_000.0, 28_774.747474747475, id="long-20x-tier4-to-3"),
    # long 1 @ 30,000 at 1x: WB 30,000 >= Q x EP: (30,000 - 30,000) / -0.996 = 0: never
    pytest.param(1, 1.0, 30_000.0, 30_000.0, 0.0, id="long-1x-never"),
]


@pytest.mark.parametrize(("side", "size", "entry", "margin", "expected"), LIQUIDATION_CASES)
def test_liquidation_price_follows_binance_isolated_formula(
    side: int, size: float, entry: float, margin: float, expected: float
) -> None:
    price = liquidation_price(side, size, entry, margin, BINANCE_BTCUSDT_TIERS)
    assert price == pytest.approx(expected, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize(
    ("buy_or_sell", "size", "price", "leverage", "expected"),
    [
        pytest.param(1, 1.0, 30_000.0, 10, 27_108.433734939759, id="long-10x"),
        pytest.param(-1, 1.8, 25_000.0, 2, 37_341.072415699281, id="short-2x-tier-rises"),
        pytest.param(1, 2.0, 30_000.0, 2, 15_060.240963855422, id="long-2x-tier-falls"),
    ],
)
def test_open_position_reports_the_binance_liquidation_price(
    make_market: MarketBuilder,
    buy_or_sell: int,
    size: float,
    price: float,
    leverage: float,
    expected: float,
) -> None:
    # The margin the engine locks is notional / leverage, so these are the cases above.
    market = make_market([price, price, price])
    place = (
        (lambda s: s.buy(size, leverage=leverage))
        if buy_or_sell > 0
        else (lambda s: s.sell(size, leverage=leverage))
    )
    _, seen = run_script(market, {0: place}, cash=1_000_000.0)
    position = seen.positions[1]
    assert position.margin == pytest.approx(size * price / leverage)
    assert position.liquidation_price == pytest.approx(expected, rel=1e-12)


def test_margin_ratio_is_maintenance_over_margin_balance(make_market: MarketBuilder) -> None:
    # Long 1 @ 30,000 at 10x: margin 3,000; at close 29,000: balance 3,000 - 1,000 = 2,000;
    # maintenance 29,000 x 0.004 = 116; ratio 116 / 2,000 = 0.058.
    market = make_market([30_000, 30_000, 29_000])
    result, seen = run_script(
        market,
        {0: lambda s: s.buy(1.0, leverage=10), 2: lambda s: s.log(f"{s.get_margin_ratio():.6f}")},
    )
    assert seen.positions[2].unrealized_pnl == -1_000.0
    assert result.logs[-1].message == "0.058000"


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param((), id="empty"),
        pytest.param(((10, 0.004, 125),), id="first-floor-not-zero"),
        pytest.param(((0, 0.004, 125), (0, 0.005, 100)), id="floors-not-increasing"),
        pytest.param(((0, 0.0, 125),), id="zero-rate"),
        pytest.param(((0, 0.004, 200),), id="leverage-over-125"),
    ],
)
def test_bad_tier_tables_are_refused(rows: tuple[tuple[float, float, float], ...]) -> None:
    with pytest.raises(ConfigError):
        build_tiers(rows)
