"""Worked examples: stop-loss and take-profit inside a bar along its path (the extreme nearer
the open first), and their order against liquidation."""

from __future__ import annotations

import pytest

from app.engine import ExitReason, OrderStatus, OrderType

from .scripted import Action, MarketBuilder, OhlcRow, run_script

FLAT: OhlcRow = (100.0, 100.0, 100.0, 100.0)


def long_with(stop_loss: float | None, take_profit: float | None, leverage: float = 1) -> Action:
    return lambda s: s.buy(1.0, leverage=leverage, stop_loss=stop_loss, take_profit=take_profit)


def short_with(stop_loss: float | None, take_profit: float | None) -> Action:
    return lambda s: s.sell(1.0, stop_loss=stop_loss, take_profit=take_profit)


EXIT_CASES = [
    # long, SL 95 / TP 110, bar range 94..111 holds both: the adverse stop fires at 95
    pytest.param(
        long_with(95, 110),
        (100, 111, 94, 105),
        ExitReason.STOP_LOSS,
        95.0,
        -5.0,
        id="long-both-fit-stop-first",
    ),
    # long, only the TP 110 is reached (high 111): out at 110, pnl +10
    pytest.param(
        long_with(95, 110),
        (100, 111, 99, 105),
        ExitReason.TAKE_PROFIT,
        110.0,
        10.0,
        id="long-take-profit",
    ),
    # long, bar opens at 93 below the SL 95: out at the open 93, pnl -7
    pytest.param(
        long_with(95, 110),
        (93, 94, 92, 93),
        ExitReason.STOP_LOSS,
        93.0,
        -7.0,
        id="long-stop-gap-at-open",
    ),
    # long, bar opens at 112 above the TP 110: out at the better open 112, pnl +12
    pytest.param(
        long_with(95, 110),
        (112, 113, 111, 112),
        ExitReason.TAKE_PROFIT,
        112.0,
        12.0,
        id="long-take-profit-gap-at-open",
    ),
    # short, SL 105 / TP 90, range 89..106 holds both: the stop at 105, pnl -5
    pytest.param(
        short_with(105, 90),
        (100, 106, 89, 95),
        ExitReason.STOP_LOSS,
        105.0,
        -5.0,
        id="short-both-fit-stop-first",
    ),
    # short, TP 90 reached (low 89): out at 90, pnl +10
    pytest.param(
        short_with(105, 90),
        (100, 101, 89, 95),
        ExitReason.TAKE_PROFIT,
        90.0,
        10.0,
        id="short-take-profit",
    ),
    # short, bar opens at 107 above SL 105: out at 107, pnl -7
    pytest.param(
        short_with(105, 90),
        (107, 108, 106, 107),
        ExitReason.STOP_LOSS,
        107.0,
        -7.0,
        id="short-stop-gap-at-open",
    ),
]


@pytest.mark.parametrize(("enter", "bar", "reason", "price", "pnl"), EXIT_CASES)
def test_protective_exit_fires_at_the_worked_price(
    make_market: MarketBuilder,
    enter: Action,
    bar: OhlcRow,
    reason: ExitReason,
    price: float,
    pnl: float,
) -> None:
    # Entered by a market order at bar 1's open (100); bar 2 is the worked bar.
    market = make_market([FLAT, FLAT, bar, bar])
    result, _ = run_script(market, {0: enter})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_price, trade.exit_index) == (reason, price, 2)
    assert trade.pnl == pytest.approx(pnl)
    exit_order = result.orders[-1]
    assert exit_order.status is OrderStatus.FILLED
    assert exit_order.reason == reason.value
    expected_type = OrderType.STOP if reason is ExitReason.STOP_LOSS else OrderType.LIMIT
    assert exit_order.type is expected_type


def test_stop_loss_slippage_stays_inside_the_bar(make_market: MarketBuilder) -> None:
    # SL 95 with 100 bps: 95 x 0.99 = 94.05, but the bar's low is 94.5: filled at 94.5.
    market = make_market([FLAT, FLAT, (100, 100, 94.5, 96), FLAT])
    result, _ = run_script(market, {0: long_with(95, None)}, slippage_bps=100.0)
    assert result.trades[0].exit_price == 94.5


def test_market_entry_is_protected_from_its_own_entry_bar(make_market: MarketBuilder) -> None:
    # The market buy fills at bar 1's open 100, so bar 1's low 94 came after it: SL 95 fires.
    market = make_market([FLAT, (100, 101, 94, 99), FLAT])
    result, _ = run_script(market, {0: long_with(95, None)})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_index, trade.exit_price) == (
        ExitReason.STOP_LOSS,
        1,
        95.0,
    )


def test_limit_entry_is_protected_from_its_fill_on(make_market: MarketBuilder) -> None:
    # Limit 98 fills inside bar 1 (100 -> 101 -> 94 -> 99: the high is nearer the open): the
    # fall to 94 comes after the fill at 98, so the SL 95 fires in bar 1 (the path model).
    market = make_market([FLAT, (100, 101, 94, 99), (99, 100, 96, 99)])
    enter: Action = lambda s: s.buy(1.0, limit=98, stop_loss=95)  # noqa: E731
    result, _ = run_script(market, {0: enter})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.entry_index, trade.exit_index, trade.exit_price) == (
        ExitReason.STOP_LOSS,
        1,
        1,
        95.0,
    )


@pytest.mark.parametrize(
    ("stop_loss", "reason", "price"),
    [
        # long 1 @ 100 at 10x: margin 10, LP = (10 - 100) / (0.004 - 1) = 90.3614. With the SL
        # at 92, above the LP, the stop is met first as the price falls to 89: out at 92.
        pytest.param(92.0, ExitReason.STOP_LOSS, 92.0, id="stop-above-liquidation"),
        # SL 88 is below the LP: the liquidation at 90.3614 comes first.
        pytest.param(88.0, ExitReason.LIQUIDATION, 90.0 / 0.996, id="stop-below-liquidation"),
    ],
)
def test_adverse_level_nearest_the_open_fires_first(
    make_market: MarketBuilder, stop_loss: float, reason: ExitReason, price: float
) -> None:
    market = make_market([FLAT, FLAT, (100, 100, 89, 95), FLAT])
    result, _ = run_script(market, {0: long_with(stop_loss, None, leverage=10)})
    (trade,) = result.trades
    assert trade.exit_reason is reason
    assert trade.exit_price == pytest.approx(price)


def test_entry_without_exits_keeps_the_position_exits(make_market: MarketBuilder) -> None:
    # Adding 1 more without SL/TP keeps the first order's SL 95; the stop then closes all 2.
    market = make_market([FLAT, FLAT, FLAT, (100, 100, 94, 96), FLAT])
    result, seen = run_script(market, {0: long_with(95, None), 1: lambda s: s.buy(1.0)})
    assert seen.positions[2].stop_loss == 95.0
    (trade,) = result.trades
    assert (trade.size, trade.exit_reason) == (2.0, ExitReason.STOP_LOSS)


@pytest.mark.parametrize(
    ("enter", "why"),
    [
        pytest.param(
            lambda s: s.buy(1.0, stop_loss=101),
            "stop_loss 101 must be below",
            id="long-stop-above-entry",
        ),
        pytest.param(
            lambda s: s.buy(1.0, take_profit=99),
            "take_profit 99 must be above",
            id="long-target-below-entry",
        ),
        pytest.param(
            lambda s: s.sell(1.0, stop_loss=99),
            "stop_loss 99 must be above",
            id="short-stop-below-entry",
        ),
        pytest.param(
            lambda s: s.buy(1.0, limit=90, stop_loss=91),
            "stop_loss 91 must be below the entry price 90",
            id="vs-limit-price",
        ),
    ],
)
def test_exit_on_the_wrong_side_of_the_entry_is_refused(
    make_market: MarketBuilder, enter: Action, why: str
) -> None:
    market = make_market([FLAT, FLAT])
    result, seen = run_script(market, {0: enter})
    assert seen.returned[0] == [None]
    (denied,) = result.orders  # the request has an id and a record, and never worked
    assert denied.status is OrderStatus.DENIED and why in denied.reason
    assert denied.filled_amount == 0.0 and result.trades == ()
    assert any(why in line.message for line in result.logs)
