"""Requests the account cannot honour are refused with a reason (on the order's record and in
the log); the run goes on."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine import ConfigError, Mode, OrderStatus, RunConfig

from .scripted import Action, MarketBuilder, order, run_script, warnings_of

PRICES = [30_000.0] * 5


def then_buy_one(refused: Action) -> dict[int, Action]:
    """The refused request at bar 0, and a valid buy at bar 1 that must still fill."""
    return {0: refused, 1: lambda s: s.buy(0.01)}


PLACEMENT_REFUSALS = [
    pytest.param(lambda s: s.buy(0.0), {}, "amount must be positive, got 0", id="zero-amount"),
    pytest.param(
        lambda s: s.sell(-1.0), {}, "amount must be positive, got -1", id="negative-amount"
    ),
    pytest.param(lambda s: s.buy("1"), {}, "amount must be a number, got str", id="text-amount"),
    pytest.param(
        lambda s: s.buy(float("nan")), {}, "amount must be a finite number", id="nan-amount"
    ),
    pytest.param(
        lambda s: s.buy(0.01, leverage=130),
        {},
        "leverage 130x is outside 1x to 125x",
        id="over-125x",
    ),
    pytest.param(
        lambda s: s.buy(0.01, leverage=20),
        {"leverage_max": 10.0},
        "leverage 20x is outside 1x to 10x",
        id="over-config-max",
    ),
    pytest.param(lambda s: s.buy(0.01, leverage=0.5), {}, "outside 1x", id="under-1x"),
    pytest.param(
        lambda s: s.buy(0.01, limit=29_000, stop=31_000),
        {},
        "give either limit or stop, not both",
        id="limit-and-stop",
    ),
    pytest.param(
        lambda s: s.buy(0.01, limit=-5), {}, "limit must be a positive price", id="negative-limit"
    ),
    pytest.param(
        lambda s: s.close_position(150),
        {},
        "percentage must be in (0, 100]",
        id="close-over-100-percent",
    ),
    # spot rules
    pytest.param(
        lambda s: s.sell(0.01),
        {"mode": Mode.SPOT},
        "spot mode cannot sell 0.01 when 0 is held: shorting needs futures mode",
        id="spot-short",
    ),
    pytest.param(
        lambda s: s.buy(0.01, leverage=2),
        {"mode": Mode.SPOT},
        "spot mode has no leverage (asked 2x)",
        id="spot-leverage",
    ),
]


@pytest.mark.parametrize(("refused", "config", "reason"), PLACEMENT_REFUSALS)
def test_bad_request_is_refused_with_its_reason_and_the_run_goes_on(
    make_market: MarketBuilder, refused: Action, config: dict[str, Any], reason: str
) -> None:
    result, seen = run_script(make_market(PRICES), then_buy_one(refused), **config)
    assert seen.returned[0] == [None]
    (warning,) = warnings_of(result)
    assert "refused: " in warning and reason in warning
    denied, placed = result.orders[:2]  # the refused request took the first id
    assert (denied.id, denied.status, denied.filled_amount) == (1, OrderStatus.DENIED, 0.0)
    assert reason in denied.reason and denied.filled_time is None
    assert (placed.id, placed.status, placed.filled_amount) == (2, OrderStatus.FILLED, 0.01)


FILL_REFUSALS = [
    # regression: a size the engine cannot represent used to end FILLED with nothing filled
    # and no fill time or price
    pytest.param(lambda s: s.buy(1e-13), {}, "below the smallest size", id="dust-amount"),
    # 1 BTC @ 30,000 at 1x needs 30,000 + fee; 10,000 cash is not enough
    pytest.param(lambda s: s.buy(1.0), {}, "not enough cash: needs 30,015.00", id="margin"),
    # 10 BTC @ 30,000 = 300,000 notional: tier 3 allows 50x, 75x is refused at the fill
    pytest.param(
        lambda s: s.buy(10.0, leverage=75),
        {"cash": 1_000_000.0},
        "leverage 75x is above the 50x allowed for a 300,000 notional position",
        id="tier-max-leverage",
    ),
]


@pytest.mark.parametrize(("refused", "config", "reason"), FILL_REFUSALS)
def test_order_the_account_cannot_carry_is_rejected_at_its_fill(
    make_market: MarketBuilder, refused: Action, config: dict[str, Any], reason: str
) -> None:
    result, _ = run_script(make_market(PRICES), then_buy_one(refused), fee_taker=0.0005, **config)
    rejected = order(result, 1)
    assert rejected.status is OrderStatus.REJECTED
    assert reason in rejected.reason
    (warning,) = warnings_of(result)
    assert warning.startswith("order #1 (buy ") and reason in warning
    assert order(result, 2).status is OrderStatus.FILLED
    assert result.equity.cash[1] == result.config.cash  # the refusal changed nothing


def test_adding_to_a_position_is_checked_against_the_combined_notional_tier(
    make_market: MarketBuilder,
) -> None:
    # 1.5 BTC @ 30,000 (45,000, tier 1: 125x) at 110x is fine; adding 0.5 makes 60,000, tier 2
    # allows 100x, so the second 110x order is refused.
    script: dict[int, Action] = {
        0: lambda s: s.buy(1.5, leverage=110),
        1: lambda s: s.buy(0.5, leverage=110),
    }
    result, seen = run_script(make_market(PRICES), script)
    assert order(result, 1).status is OrderStatus.FILLED
    assert order(result, 2).status is OrderStatus.REJECTED
    assert "100x allowed for a 60,000 notional" in order(result, 2).reason
    assert seen.positions[3].size == 1.5


def test_spot_buy_then_sell_what_is_held_is_allowed(make_market: MarketBuilder) -> None:
    script: dict[int, Action] = {0: lambda s: s.buy(0.1), 1: lambda s: s.sell(0.1)}
    result, _ = run_script(make_market([100, 100, 110, 110]), script, mode=Mode.SPOT)
    (trade,) = result.trades
    assert trade.pnl == pytest.approx(1.0)
    assert warnings_of(result) == []


def test_spot_sell_beyond_holdings_is_refused_and_the_holding_kept(
    make_market: MarketBuilder,
) -> None:
    script: dict[int, Action] = {0: lambda s: s.buy(0.1), 1: lambda s: s.sell(0.2)}
    result, seen = run_script(make_market([100] * 4), script, mode=Mode.SPOT)
    assert "spot mode cannot sell 0.2 when 0.1 is held" in warnings_of(result)[0]
    assert seen.positions[3].size == 0.1


def test_spot_position_is_never_liquidated(make_market: MarketBuilder) -> None:
    # A spot long bought with all its cash: a 99 % fall is a loss, not a liquidation.
    market = make_market([100, 100, (100, 100, 1, 1), 1])
    result, seen = run_script(market, {0: lambda s: s.buy(10.0)}, mode=Mode.SPOT, cash=1_000.0)
    assert seen.positions[1].liquidation_price is None
    assert result.trades[0].exit_reason.value == "end_of_data"
    assert result.metrics["final_equity"] == pytest.approx(10.0)


def test_spot_config_pins_leverage_max_to_one() -> None:
    assert RunConfig(mode=Mode.SPOT, leverage_max=20).leverage_max == 1.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cash", 0.0),
        ("leverage_max", 126.0),
        ("fee_taker", -0.1),
        ("slippage_bps", 2000.0),
        ("funding_interval_h", 2),
        ("cash", float("inf")),
    ],
)
def test_unusable_run_config_raises_config_error_naming_the_field(field: str, value: float) -> None:
    with pytest.raises(ConfigError) as caught:
        RunConfig(**{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field
