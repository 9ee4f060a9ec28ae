"""Worked examples of the bar path model: open, the extreme nearer the open, the other extreme,
close. Entries, exits and liquidations are all found along it (app/engine/intrabar.py)."""

from __future__ import annotations

import pytest

from app.engine import ExitReason
from app.engine.intrabar import bar_path

from .scripted import Action, MarketBuilder, OhlcRow, run_script

FLAT: OhlcRow = (100.0, 100.0, 100.0, 100.0)


@pytest.mark.parametrize(
    ("bar", "side", "corners"),
    [
        # high 3 away, low 5 away: the high first
        pytest.param((100, 103, 95, 99), 0, (100, 103, 95, 99), id="high-nearer"),
        # high 6 away, low 3 away: the low first
        pytest.param((100, 106, 97, 104), 0, (100, 97, 106, 104), id="low-nearer"),
        # both 5 away: adverse first, the low for a long or a flat account, the high for a short
        pytest.param((100, 105, 95, 100), 1, (100, 95, 105, 100), id="tie-long-low-first"),
        pytest.param((100, 105, 95, 100), 0, (100, 95, 105, 100), id="tie-flat-low-first"),
        pytest.param((100, 105, 95, 100), -1, (100, 105, 95, 100), id="tie-short-high-first"),
    ],
)
def test_the_path_visits_the_extreme_nearer_the_open_first(
    bar: OhlcRow, side: int, corners: tuple[float, ...]
) -> None:
    assert bar_path(*bar, side) == corners


# Each row: the order placed at the close of flat bar 0 (at 100), bar 1, and the one trade
# (exit reason, entry price, exit price, exit bar); bar 2 is flat at 100 (end of data there).
SAME_BAR_CASES = [
    # buy stop 102, TP 105; bar 1 100 -> 99 -> 106 -> 104: the rise crosses 102, then 105
    pytest.param(
        lambda s: s.buy(1.0, stop=102, take_profit=105),
        (100, 106, 99, 104),
        (ExitReason.TAKE_PROFIT, 102.0, 105.0, 1),
        id="stop-entry-take-profit-same-bar-low-first",
    ),
    # the same with the high first, 100 -> 106 -> 93 -> 104: 102, then 105 on the way up
    pytest.param(
        lambda s: s.buy(1.0, stop=102, take_profit=105),
        (100, 106, 93, 104),
        (ExitReason.TAKE_PROFIT, 102.0, 105.0, 1),
        id="stop-entry-take-profit-same-bar-high-first",
    ),
    # sell stop 98, TP 95; 100 -> 101 -> 94 -> 96: the fall crosses 98, then 95
    pytest.param(
        lambda s: s.sell(1.0, stop=98, take_profit=95),
        (100, 101, 94, 96),
        (ExitReason.TAKE_PROFIT, 98.0, 95.0, 1),
        id="short-stop-entry-take-profit-same-bar",
    ),
    # buy stop 102, SL 98; 100 -> 103 -> 96 -> 99 (high first): in at 102, out at the SL 98
    pytest.param(
        lambda s: s.buy(1.0, stop=102, stop_loss=98),
        (100, 103, 96, 99),
        (ExitReason.STOP_LOSS, 102.0, 98.0, 1),
        id="stop-entry-stopped-later-in-the-bar",
    ),
    # buy stop 102, SL 98; 100 -> 97 -> 106 -> 104 (low first): the low came before the entry
    pytest.param(
        lambda s: s.buy(1.0, stop=102, stop_loss=98),
        (100, 106, 97, 104),
        (ExitReason.END_OF_DATA, 102.0, 100.0, 2),
        id="stop-entry-low-before-the-entry-does-not-stop-it",
    ),
    # buy stop 102, SL 99: bar 1 gaps open at 103 (in there), then 103 -> 104 -> 98: SL 99
    pytest.param(
        lambda s: s.buy(1.0, stop=102, stop_loss=99),
        (103, 104, 98, 100),
        (ExitReason.STOP_LOSS, 103.0, 99.0, 1),
        id="gapped-stop-entry-followed-by-the-whole-bar",
    ),
    # buy stop 102, TP 105: bar 1 opens at 106, beyond both: in at 106, the TP at the open 106
    pytest.param(
        lambda s: s.buy(1.0, stop=102, take_profit=105),
        (106, 107, 105.5, 106),
        (ExitReason.TAKE_PROFIT, 106.0, 106.0, 1),
        id="open-beyond-the-take-profit-fills-it-at-the-open",
    ),
    # buy limit 98, SL 95; 100 -> 101 -> 94 -> 99: in at 98 on the way down, out at 95
    pytest.param(
        lambda s: s.buy(1.0, limit=98, stop_loss=95),
        (100, 101, 94, 99),
        (ExitReason.STOP_LOSS, 98.0, 95.0, 1),
        id="limit-entry-stopped-later-in-the-bar",
    ),
    # buy limit 98, TP 103; 100 -> 97 -> 104 -> 101: in at 98, then up through 103
    pytest.param(
        lambda s: s.buy(1.0, limit=98, take_profit=103),
        (100, 104, 97, 101),
        (ExitReason.TAKE_PROFIT, 98.0, 103.0, 1),
        id="limit-entry-take-profit-later-in-the-bar",
    ),
    # buy limit 98, SL 95; 100 -> 95.5 -> ... never reaches 95 after the entry: kept
    pytest.param(
        lambda s: s.buy(1.0, limit=98, stop_loss=95),
        (100, 106, 95.5, 104),
        (ExitReason.END_OF_DATA, 98.0, 100.0, 2),
        id="limit-entry-stop-not-reached",
    ),
]


@pytest.mark.parametrize(("enter", "bar", "expected"), SAME_BAR_CASES)
def test_an_entry_inside_a_bar_is_followed_by_the_rest_of_its_path(
    make_market: MarketBuilder, enter: Action, bar: OhlcRow, expected: tuple[object, ...]
) -> None:
    result, _ = run_script(make_market([FLAT, bar, FLAT]), {0: enter})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.entry_price, trade.exit_price, trade.exit_index) == expected
    assert trade.entry_index == 1


# A long entered at bar 1's open (100) by a market buy with SL 95 / TP 110; bar 2 decides.
BOTH_LEVELS_CASES = [
    # 100 -> 94 (6 away) -> 111 -> 105: the low first, the stop at 95
    pytest.param((100, 111, 94, 105), ExitReason.STOP_LOSS, 95.0, id="low-nearer-stop"),
    # 100 -> 111 (11 away) -> 88 (12 away): the high first, the take-profit at 110
    pytest.param((100, 111, 88, 95), ExitReason.TAKE_PROFIT, 110.0, id="high-nearer-target"),
    # 11 and 11: the path cannot tell, the adverse (the stop) fires first
    pytest.param((100, 111, 89, 95), ExitReason.STOP_LOSS, 95.0, id="tie-adverse-first"),
]


@pytest.mark.parametrize(("bar", "reason", "price"), BOTH_LEVELS_CASES)
def test_the_path_decides_between_stop_loss_and_take_profit(
    make_market: MarketBuilder, bar: OhlcRow, reason: ExitReason, price: float
) -> None:
    market = make_market([FLAT, FLAT, bar, FLAT])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, stop_loss=95, take_profit=110)})
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_price, trade.exit_index) == (reason, price, 2)


@pytest.mark.parametrize(
    ("bar", "reason", "price"),
    [
        # long 1 @ 100 at 10x: LP = (10 - 100) / (0.004 - 1) = 90.3614. 100 -> 110.5 (10.5
        # away) -> 89 (11 away): the high first, so the take-profit at 110 closes it first
        pytest.param((100, 110.5, 89, 95), ExitReason.TAKE_PROFIT, 110.0, id="target-first"),
        # 100 -> 89 (11) -> 112 (12): the low first, liquidated at 90.3614
        pytest.param((100, 112, 89, 95), ExitReason.LIQUIDATION, 90.0 / 0.996, id="liq-first"),
    ],
)
def test_liquidation_is_found_on_the_same_path(
    make_market: MarketBuilder, bar: OhlcRow, reason: ExitReason, price: float
) -> None:
    market = make_market([FLAT, FLAT, bar, FLAT])
    enter: Action = lambda s: s.buy(1.0, leverage=10, take_profit=110)  # noqa: E731
    result, _ = run_script(market, {0: enter})
    (trade,) = result.trades
    assert trade.exit_reason is reason
    assert trade.exit_price == pytest.approx(price)


def test_a_gap_through_the_liquidation_price_books_the_exit_at_that_price(
    make_market: MarketBuilder,
) -> None:
    # long 1 @ 100 at 10x, LP 90.3614; bar 2 opens at 85, below it. The loss is the isolated
    # margin (10) whatever the gap: the row shows the liquidation price, outside bar 2's range.
    market = make_market([FLAT, FLAT, (85, 86, 84, 85), FLAT])
    result, _ = run_script(market, {0: lambda s: s.buy(1.0, leverage=10)})
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.LIQUIDATION
    assert trade.exit_price == pytest.approx(90.0 / 0.996)
    assert trade.pnl == pytest.approx(-10.0)
