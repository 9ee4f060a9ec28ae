"""Worked examples: dated tier tables (Binance BTCUSDT brackets as published in mid-2024),
their consistency checks, the liquidation price across brackets, and the tier leverage cap.

BTCUSDT 2024 (floor, MMR, cum, max leverage):
  0 0.4 % 0 125x | 50k 0.5 % 50 100x | 600k 0.65 % 950 75x | 3M 1 % 11,450 50x |
  12M 2 % 131,450 25x | ... (cum(k) = cum(k-1) + floor(k) x (MMR(k) - MMR(k-1)))
The 2023-04-16 table (the engine's default) has 250k 1 % cum 1,300 50x as its third bracket.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.engine import BINANCE_BTCUSDT_TIERS, ConfigError, ExitReason, liquidation_price
from app.engine.margin import maintenance_margin
from app.engine.tiers import parse_tier_table, tier_index, tier_leverage_message, tiers_sha256

from .scripted import MarketBuilder, order, run_script

BTC_2024_ROWS: list[tuple[float, float, float, float, float]] = [
    (0, 50_000, 0.004, 0, 125),
    (50_000, 600_000, 0.005, 50, 100),
    (600_000, 3_000_000, 0.0065, 950, 75),
    (3_000_000, 12_000_000, 0.01, 11_450, 50),
    (12_000_000, 70_000_000, 0.02, 131_450, 25),
]


def document(
    rows: list[tuple[float, float, float, float, float]] = BTC_2024_ROWS,
) -> dict[str, Any]:
    return {
        "format": "strategylab-tiers/1",
        "exchange": "binance-usdtm",
        "symbol": "BTCUSDT",
        "snapshot_date": "2024-06-28/2024-09-27",
        "source": "worked example",
        "brackets": [
            {
                "notional_floor": floor,
                "notional_cap": cap,
                "maintenance_rate": rate,
                "maintenance_amount": cum,
                "max_leverage": leverage,
            }
            for floor, cap, rate, cum, leverage in rows
        ],
    }


TABLE = parse_tier_table(document())
TIERS = TABLE.tiers


def test_a_table_keeps_its_published_figures_name_and_hash() -> None:
    assert [tier.maintenance_amount for tier in TIERS] == [0, 50, 950, 11_450, 131_450]
    assert TABLE.name == "binance-usdtm/BTCUSDT@2024-06-28/2024-09-27"
    assert TABLE.notional_cap == 70_000_000
    assert TABLE.sha256 == tiers_sha256(TIERS) != tiers_sha256(BINANCE_BTCUSDT_TIERS)
    assert parse_tier_table(TABLE.to_document()) == TABLE


@pytest.mark.parametrize(
    ("notional", "bracket", "maintenance"),
    [
        (30_000.0, 0, 120.0),  # 30,000 x 0.004 - 0
        (300_000.0, 1, 1_450.0),  # 300,000 x 0.005 - 50 (the 2023 table: x 1 % - 1,300)
        (600_000.0, 2, 2_950.0),  # floors are inclusive: 600,000 x 0.0065 - 950
        (5_000_000.0, 3, 38_550.0),  # 5,000,000 x 0.01 - 11,450
        (20_000_000.0, 4, 268_550.0),  # 20,000,000 x 0.02 - 131,450
    ],
)
def test_maintenance_margin_in_each_bracket(
    notional: float, bracket: int, maintenance: float
) -> None:
    assert tier_index(notional, TIERS) == bracket
    assert maintenance_margin(notional, TIERS) == pytest.approx(maintenance)


LIQUIDATIONS = [
    # long 10 @ 60,000 (600k: bracket 3), 20x, WB 30,000: bracket 3 gives (30,000 + 950 -
    # 600,000) / (0.065 - 10) = 57,277.30, notional 572,773 -> bracket 2 at that price:
    # (30,000 + 50 - 600,000) / (0.05 - 10) = 57,281.4070 (572,814: bracket 2 holds)
    pytest.param(1, 10.0, 60_000.0, 30_000.0, 57_281.407035175886, id="long-falls-to-bracket-2"),
    # short 19 @ 30,000 (570k: bracket 2), 5x, WB 114,000: bracket 2 gives 684,050 / 19.095
    # = 35,823.51, notional 680,647 -> bracket 3: (114,000 + 950 + 570,000) / 19.1235
    # = 35,817.1883 (680,527: bracket 3 holds)
    pytest.param(-1, 19.0, 30_000.0, 114_000.0, 35_817.188276204666, id="short-rises-to-3"),
    # short 100 @ 30,000 (3M: bracket 4), 10x, WB 300,000: (300,000 + 11,450 + 3,000,000) /
    # (1 + 100) = 32,786.6337 (3,278,663: bracket 4 holds)
    pytest.param(-1, 100.0, 30_000.0, 300_000.0, 32_786.63366336634, id="short-bracket-4"),
    # long 5 @ 60,000 (300k: bracket 2), 75x, WB 4,000: (4,000 + 50 - 300,000) / (0.025 - 5)
    # = 59,487.4372; the 2023 table's bracket 3 would give 59,535.35
    pytest.param(1, 5.0, 60_000.0, 4_000.0, 59_487.43718592965, id="long-bracket-2"),
]


@pytest.mark.parametrize(("side", "size", "entry", "margin", "expected"), LIQUIDATIONS)
def test_liquidation_price_takes_the_bracket_at_the_liquidation_price(
    side: int, size: float, entry: float, margin: float, expected: float
) -> None:
    assert liquidation_price(side, size, entry, margin, TIERS) == pytest.approx(expected, rel=1e-12)


def test_the_same_position_liquidates_elsewhere_under_the_2023_table() -> None:
    assert liquidation_price(1, 5.0, 60_000.0, 4_000.0, BINANCE_BTCUSDT_TIERS) == pytest.approx(
        59_535.35353535353, rel=1e-12
    )


def test_a_run_is_liquidated_at_the_price_of_the_bracket_it_falls_into(
    make_market: MarketBuilder,
) -> None:
    # Long 10 @ 60,000 at 20x (case 1 above); bar 2's low 57,000 crosses the LP 57,281.41:
    # closed there, the 30,000 margin lost.
    market = make_market([60_000, 60_000, (60_000, 60_000, 57_000, 58_000), 58_000])
    result, seen = run_script(
        market,
        {0: lambda s: s.buy(10.0, leverage=20)},
        cash=100_000.0,
        margin_tiers=TIERS,
        tier_table=TABLE.label(),
    )
    assert seen.positions[1].liquidation_price == pytest.approx(57_281.407035175886)
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.LIQUIDATION
    assert trade.exit_price == pytest.approx(57_281.407035175886)
    assert trade.pnl == pytest.approx(-30_000.0)


@pytest.mark.parametrize(
    ("tiers", "is_refused"),
    [
        pytest.param(TIERS, False, id="2024: 300k is bracket 2, up to 100x"),
        pytest.param(BINANCE_BTCUSDT_TIERS, True, id="2023: 300k is bracket 3, up to 50x"),
    ],
)
def test_tier_leverage_is_enforced_when_the_order_fills(
    make_market: MarketBuilder, tiers: Any, is_refused: bool
) -> None:
    market = make_market([60_000, 60_000, 60_000])
    result, _ = run_script(
        market, {0: lambda s: s.buy(5.0, leverage=75)}, cash=100_000.0, margin_tiers=tiers
    )
    record = order(result, 1)
    assert (record.status.value == "rejected") is is_refused
    if is_refused:
        assert "above the 50x allowed for a 300,000 notional position (bracket 3" in (
            record.reason or ""
        )


def test_the_refusal_names_the_bracket_its_range_and_the_table() -> None:
    message = tier_leverage_message(100.0, 700_000.0, TIERS, TABLE.label())
    assert message.startswith(
        "leverage 100x is above the 75x allowed for a 700,000 notional position "
        "(bracket 3, 600,000 to 3,000,000, of binance-usdtm/BTCUSDT@2024-06-28/2024-09-27"
    )
    assert message.endswith("use at most 75x or a smaller amount")


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(document())
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "says"),
    [
        pytest.param(
            _broken(("brackets", 2, "maintenance_amount"), 900),
            "breaks the continuity",
            id="cum-inconsistent",
        ),
        pytest.param(
            _broken(("brackets", 1, "notional_cap"), 500_000),
            "brackets must meet",
            id="hole-between-brackets",
        ),
        pytest.param(
            _broken(("brackets", 0, "notional_floor"), 10),
            "must start at notional 0",
            id="first-floor-not-zero",
        ),
        pytest.param(
            _broken(("brackets", 1, "max_leverage"), 150), "max_leverage rises", id="leverage-rises"
        ),
        pytest.param(
            _broken(("brackets", 0, "max_leverage"), 200), "not in [1, 125]", id="leverage-over-125"
        ),
        pytest.param(
            _broken(("brackets", 1, "maintenance_rate"), 0.003), "rate falls", id="rate-falls"
        ),
        pytest.param(
            _broken(("brackets", 0, "maintenance_rate"), "0.004"),
            "must be a number",
            id="rate-as-text",
        ),
        pytest.param(
            _broken(("brackets", 0, "max_leverage"), float("nan")), "finite number", id="nan"
        ),
        pytest.param(
            _broken(("brackets", 0, "extra"), 1), "unknown key 'extra'", id="unknown-bracket-key"
        ),
        pytest.param(_broken(("snapshot_date",), "2024-13-01"), "ISO date", id="bad-date"),
        pytest.param(
            _broken(("snapshot_date",), "2024-09-27/2024-06-28"),
            "ISO date",
            id="interval-backwards",
        ),
        pytest.param(_broken(("source",), KeyError), "where the figures come from", id="no-source"),
        pytest.param(_broken(("brackets",), []), "list of 1 to", id="no-brackets"),
        pytest.param(_broken(("symbol",), "btc usdt"), "`symbol`", id="bad-symbol"),
        pytest.param(_broken(("format",), "other/2"), "`format`", id="other-format"),
        pytest.param([1, 2], "JSON object", id="not-an-object"),
    ],
)
def test_bad_tables_are_refused_with_the_bracket_and_field(doc: Any, says: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_tier_table(doc, where="t.json")
    assert raised.value.field == "tiers"
    assert says in raised.value.message
    assert raised.value.message.startswith("t.json")


def test_the_last_bracket_may_have_no_recorded_cap() -> None:
    table = parse_tier_table(_broken(("brackets", 4, "notional_cap"), None))
    assert table.notional_cap == float("inf")
    assert table.to_document()["brackets"][4]["notional_cap"] is None
    with pytest.raises(ConfigError, match="must be a number"):
        parse_tier_table(_broken(("brackets", 2, "notional_cap"), None))
