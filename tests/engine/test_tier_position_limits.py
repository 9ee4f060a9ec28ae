"""Worked examples: a tier table's position limits at the fill, the table's largest position
(its last bracket's cap) and the largest position at a leverage (Binance's maxNotionalValue: the
cap of the last bracket allowing that leverage, a position exactly at it included).

The table (Binance BTCUSDT's first two 2024 brackets, cut at 600k):
  0 to 50,000: 0.4 %, cum 0, 125x | 50,000 to 600,000: 0.5 %, cum 50, 100x (the table's cap)
Prices are 60,000 unless said, so 10 BTC is 600,000, exactly the cap. No fees (QUIET).
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from app.engine import ConfigError, RunConfig, parse_tier_table
from app.engine.events import RejectReason
from app.engine.tiers import check_position_limits, limit_index

from .scripted import Action, MarketBuilder, order, run_script, warnings_of

TABLE = parse_tier_table(
    {
        "format": "strategylab-tiers/1",
        "exchange": "binance-usdtm",
        "symbol": "BTCUSDT",
        "snapshot_date": "2024-06-28/2024-09-27",
        "source": "worked example: the 2024 table's first two brackets",
        "brackets": [
            {
                "notional_floor": 0,
                "notional_cap": 50_000,
                "maintenance_rate": 0.004,
                "maintenance_amount": 0,
                "max_leverage": 125,
            },
            {
                "notional_floor": 50_000,
                "notional_cap": 600_000,
                "maintenance_rate": 0.005,
                "maintenance_amount": 50,
                "max_leverage": 100,
            },
        ],
    }
)
LIMITS: dict[str, Any] = {
    "margin_tiers": TABLE.tiers,
    "tier_table": TABLE.label(),
    "tier_notional_cap": TABLE.max_position,
    "cash": 1_000_000.0,
}
CAP_REFUSAL = (
    "position notional {notional} would exceed 600,000, the largest position (the last "
    f"bracket's cap) of {TABLE.label()}; use a smaller amount"
)


def _run(market: MarketBuilder, prices: list[Any], script: dict[int, Any]) -> Any:
    result, _ = run_script(market(prices), script, **LIMITS)
    return result


@pytest.mark.parametrize(
    ("amount", "leverage", "status", "reason"),
    [
        pytest.param(10.0, 1, "filled", None, id="at the cap: 10 x 60,000 = 600,000"),
        pytest.param(10.01, 1, "rejected", "600,600", id="just over: 10.01 x 60,000 = 600,600"),
        pytest.param(100.0, 100, "rejected", "6,000,000", id="far over, margin 60,000 is there"),
    ],
)
def test_a_position_over_the_tables_largest_is_refused_when_the_order_fills(
    make_market: MarketBuilder, amount: float, leverage: float, status: str, reason: str | None
) -> None:
    result = _run(make_market, [60_000] * 3, {0: lambda s: s.buy(amount, leverage=leverage)})
    record = order(result, 1)
    assert record.status.value == status
    if reason is None:
        assert result.trades[-1].size == pytest.approx(10.0)  # closed at the end of the data
        return
    assert record.reason == CAP_REFUSAL.format(notional=reason)
    assert warnings_of(result) == [f"order #1 (buy {amount:g} market) refused: {record.reason}"]
    assert result.trades == ()


def test_an_increase_that_crosses_the_cap_is_refused_and_leaves_the_position(
    make_market: MarketBuilder,
) -> None:
    # bar 0: buy 6 (360,000) fills at bar 1; bar 1: buy 5 more would make 11 x 60,000 = 660,000
    script: dict[int, Action] = {0: lambda s: s.buy(6.0), 1: lambda s: s.buy(5.0)}
    result, seen = run_script(make_market([60_000] * 4), script, **LIMITS)
    assert order(result, 1).status.value == "filled"
    second = order(result, 2)
    assert second.status.value == "rejected"
    assert second.reason == CAP_REFUSAL.format(notional="660,000")
    assert seen.positions[3].size == pytest.approx(6.0)


def test_a_reduce_is_allowed_while_the_position_is_over_the_cap_and_an_increase_is_not(
    make_market: MarketBuilder,
) -> None:
    # 10 bought at 60,000 (600,000: at the cap); the price rises to 66,000: 660,000, over it.
    # Adding 0.01 (660,660) is refused; selling 2 (a reduce) fills; then 8 x 66,000 = 528,000,
    # and 1 more (594,000) fills.
    script: dict[int, Action] = {
        0: lambda s: s.buy(10.0),
        2: lambda s: s.buy(0.01),
        3: lambda s: s.sell(2.0),
        4: lambda s: s.buy(1.0),
    }
    prices = [60_000, 60_000, 66_000, 66_000, 66_000, 66_000, 66_000]
    result, seen = run_script(make_market(prices), script, **LIMITS)
    statuses = [order(result, i).status.value for i in (1, 2, 3, 4)]
    assert statuses == ["filled", "rejected", "filled", "filled"]
    assert order(result, 2).reason == CAP_REFUSAL.format(notional="660,660")
    assert seen.positions[5].size == pytest.approx(9.0)


def test_a_flip_closes_the_position_and_refuses_a_new_side_over_the_cap(
    make_market: MarketBuilder,
) -> None:
    # long 10, then sell 21 at 60,000: the close of 10 fills, the 11 short (660,000) is refused
    script: dict[int, Action] = {0: lambda s: s.buy(10.0), 2: lambda s: s.sell(21.0)}
    result, seen = run_script(make_market([60_000] * 5), script, **LIMITS)
    flip = order(result, 2)
    assert flip.status.value == "filled"
    assert flip.filled_amount == pytest.approx(10.0)
    assert seen.positions[4].size == 0.0
    assert CAP_REFUSAL.format(notional="660,000") in " ".join(warnings_of(result))


@pytest.mark.parametrize(
    ("notional", "leverage", "reason"),
    [
        # a position exactly at a bracket's cap takes that bracket's leverage (maxNotionalValue)
        pytest.param(50_000.0, 125.0, None, id="50,000 at 125x: the first cap, allowed"),
        pytest.param(50_000.01, 125.0, RejectReason.TIER_LEVERAGE, id="just over it at 125x"),
        pytest.param(50_000.01, 100.0, None, id="just over it at 100x"),
        pytest.param(600_000.0, 100.0, None, id="the table's cap at 100x"),
        pytest.param(600_000.01, 1.0, RejectReason.NOTIONAL_CAP, id="over the table's cap"),
    ],
)
def test_the_largest_position_at_a_leverage_is_the_cap_of_the_last_bracket_allowing_it(
    notional: float, leverage: float, reason: RejectReason | None
) -> None:
    refusal = check_position_limits(
        leverage, notional, TABLE.tiers, TABLE.max_position, TABLE.label()
    )
    assert (None if refusal is None else refusal.reason) is reason


def test_the_leverage_refusal_names_the_bracket_the_check_used() -> None:
    # 50,000 is bracket 1's cap (limit_index 0) though bracket 2's floor (maintenance)
    assert limit_index(50_000.0, TABLE.tiers) == 0
    assert limit_index(50_000.01, TABLE.tiers) == 1
    refusal = check_position_limits(125.0, 60_000.0, TABLE.tiers, 600_000.0, TABLE.label())
    assert refusal is not None
    assert refusal.message == (
        "leverage 125x is above the 100x allowed for a 60,000 notional position (bracket 2, "
        f"50,000 to 600,000, of {TABLE.label()}); use at most 100x or a smaller amount"
    )
    uncapped = check_position_limits(125.0, 60_000.0, TABLE.tiers, None, TABLE.label())
    assert uncapped is not None and "(bracket 2, from 50,000, of" in uncapped.message


def test_a_table_without_a_recorded_cap_has_no_largest_position() -> None:
    assert RunConfig().tier_notional_cap is None  # the engine's default: 2023, cap not recorded
    assert check_position_limits(1.0, 1e12, TABLE.tiers, None, TABLE.label()) is None
    assert math.isinf(
        parse_tier_table(
            {
                **TABLE.to_document(),
                "brackets": [{**TABLE.to_document()["brackets"][0], "notional_cap": None}],
            }
        ).notional_cap
    )


@pytest.mark.parametrize("cap", [0.0, -1.0, math.inf, math.nan, True, "600000"])
def test_a_config_refuses_a_cap_that_is_not_a_positive_finite_notional(cap: Any) -> None:
    with pytest.raises(ConfigError, match="tier_notional_cap"):
        RunConfig(tier_notional_cap=cap)


def test_a_config_carries_its_cap_through_its_dict() -> None:
    config = RunConfig(tier_notional_cap=600_000.0)
    again = RunConfig.from_dict(config.to_dict())
    assert again.tier_notional_cap == 600_000.0
    assert again.fingerprint() == config.fingerprint() != RunConfig().fingerprint()
