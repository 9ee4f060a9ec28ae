"""Worked examples: the mark price liquidates, settles funding and marks the equity; fills stay at
the trade price. Funding instants and rates from the data's series, whose interval may change.

Long 1 @ 100 at 10x: margin 10, LP = (10 - 100) / (0.004 - 1) = 90.3614 (no fees, no slippage).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.engine import ExitReason, MarketData, MarketDataError, run_backtest
from app.engine.broker import Broker
from app.engine.liquidation import MARK_PRICE_SOURCE, price_source
from app.engine.results import PRICE_SOURCE

from .randomized import RandomTrader
from .scripted import MarketBuilder, OhlcRow, run_script
from .test_properties import PROPERTY_SETTINGS, Scenario, scenarios
from .test_quiet_bars import every_bar_schedule

FLAT: OhlcRow = (100.0, 100.0, 100.0, 100.0)
LONG_LP = 90.0 / 0.996
OHLC_NAMES = ("open", "high", "low", "close")


def with_mark(market: MarketData, rows: Sequence[OhlcRow]) -> MarketData:
    mark = np.array(rows, dtype=np.float64)
    return dataclasses.replace(
        market,
        mark_open=mark[:, 0].copy(),
        mark_high=mark[:, 1].copy(),
        mark_low=mark[:, 2].copy(),
        mark_close=mark[:, 3].copy(),
    )


def long_10x(s: object) -> None:
    s.buy(1.0, leverage=10)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("trade_bar", "mark_bar", "is_liquidated"),
    [
        # the trade price wicks through the LP, the mark does not: no liquidation
        pytest.param((100, 100, 90, 95), (100, 100, 95, 96), False, id="trade-wick-mark-holds"),
        # the mark reaches the LP while the trade price stays above it: liquidated at the LP
        pytest.param((100, 100, 95, 96), (100, 100, 90, 95), True, id="mark-reaches-lp"),
        # the mark opens through the LP (a gap on the mark alone): liquidated at the open
        pytest.param((96, 97, 95, 96), (88, 92, 88, 91), True, id="mark-gaps-through"),
    ],
)
def test_the_mark_price_decides_liquidation(
    make_market: MarketBuilder, trade_bar: OhlcRow, mark_bar: OhlcRow, is_liquidated: bool
) -> None:
    market = with_mark(make_market([FLAT, FLAT, trade_bar, FLAT]), [FLAT, FLAT, mark_bar, FLAT])
    result, seen = run_script(market, {0: long_10x}, cash=1_000.0)
    assert seen.positions[1].liquidation_price == pytest.approx(LONG_LP)
    liquidated = [t for t in result.trades if t.exit_reason is ExitReason.LIQUIDATION]
    assert bool(liquidated) is is_liquidated
    if is_liquidated:
        (trade,) = liquidated
        assert trade.exit_index == 2
        assert trade.exit_price == pytest.approx(LONG_LP)
        assert trade.pnl == pytest.approx(-10.0)  # the isolated margin


def test_a_stop_loss_fills_at_the_trade_price_unless_the_mark_liquidates_first(
    make_market: MarketBuilder,
) -> None:
    # Stop-loss 93 with the LP 90.36. Bar 2: trade low 92 fires the stop at 93 (trade price),
    # the mark's low 94 is far from the LP: a stop_loss exit at 93, loss 7.
    stop = [FLAT, FLAT, (100, 100, 92, 95), FLAT]
    enter = {0: lambda s: s.buy(1.0, leverage=10, stop_loss=93.0)}
    market = with_mark(make_market(stop), [FLAT, FLAT, (100, 100, 94, 95), FLAT])
    result, _ = run_script(market, enter, cash=1_000.0)
    (trade,) = result.trades
    assert (trade.exit_reason, trade.exit_price) == (ExitReason.STOP_LOSS, 93.0)
    # The same bar with the mark's low at 90: both could fire and the order of the two series
    # inside the bar is unknown, so the adverse one, the liquidation, is taken.
    market = with_mark(make_market(stop), [FLAT, FLAT, (100, 100, 90, 95), FLAT])
    result, _ = run_script(market, enter, cash=1_000.0)
    (trade,) = result.trades
    assert trade.exit_reason is ExitReason.LIQUIDATION


def test_the_equity_is_marked_at_the_mark_close_and_the_results_say_so(
    make_market: MarketBuilder,
) -> None:
    # Long 1 @ 100 (fills at the trade open); bar 2 closes at 100 traded, 98 on the mark:
    # equity = 1,000 - 2 = 998 there, while the trade price alone gives 1,000.
    rows = [FLAT, FLAT, FLAT, FLAT]
    plain = make_market(rows)
    marked = with_mark(plain, [FLAT, FLAT, (100, 100, 98, 98), FLAT])
    result, _ = run_script(marked, {0: lambda s: s.buy(1.0)}, cash=1_000.0)
    assert result.equity.equity[2] == pytest.approx(998.0)
    assert result.price_source == MARK_PRICE_SOURCE
    assert result.trades[0].entry_price == 100.0
    _, seen = run_script(marked, {0: lambda s: s.buy(1.0)}, cash=1_000.0)
    assert (seen.positions[2].unrealized_pnl, seen.equity[2]) == (-2.0, 998.0)  # the strategy too
    unmarked, _ = run_script(plain, {0: lambda s: s.buy(1.0)}, cash=1_000.0)
    assert unmarked.equity.equity[2] == pytest.approx(1_000.0)
    assert unmarked.price_source == PRICE_SOURCE


def test_funding_is_paid_on_the_mark_price(make_market: MarketBuilder) -> None:
    # 08:00 instant: 1 x mark open 102 x 0.0001 = 0.0102 (the trade open is 100).
    rows = [FLAT] * 10
    mark = [FLAT] * 8 + [(102, 102, 102, 102)] * 2
    market = with_mark(make_market(rows), mark)
    result, _ = run_script(market, {0: lambda s: s.buy(1.0)}, funding_rate=0.0001)
    assert result.metrics["funding_paid"] == pytest.approx(0.0102)


def test_bars_the_mark_lacks_take_the_trade_price_and_are_counted() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="1h", tz="UTC", name="time")
    frame = pd.DataFrame(
        {c: [100.0, 101, 102, 103] for c in ("open", "high", "low", "close")}, index=index
    )
    frame["volume"] = 1.0
    mark = frame.drop(index[2])[["open", "high", "low", "close"]] - 1.0
    market = MarketData.from_frame(frame, mark=mark)
    assert market.mark_close.tolist() == [99.0, 100.0, 102.0, 102.0]
    assert market.mark_filled_bars == 1
    assert price_source(market).endswith(
        "the trade price stood in on 1 bar(s) the mark series lacks"
    )
    assert market.slice(1, 3).mark_close.tolist() == [100.0, 102.0]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        pytest.param({"mark_close": np.array([100.0])}, "one bar for each", id="length"),
        pytest.param({"mark_low": np.array([100.0, 100.0, 101.0])}, "OHLC rules", id="ohlc"),
        pytest.param({"mark_low": np.array([100.0, -1.0, 100.0])}, "above 0", id="negative"),
    ],
)
def test_a_broken_mark_series_is_refused(
    make_market: MarketBuilder, change: dict[str, Any], says: str
) -> None:
    market = with_mark(make_market([FLAT, FLAT, FLAT]), [FLAT, FLAT, FLAT])
    with pytest.raises(MarketDataError, match=says):
        dataclasses.replace(market, **change)


def test_funding_instants_follow_the_series_when_its_interval_changes(
    make_market: MarketBuilder,
) -> None:
    # Series: 00, 08, 16 (8 h), then 20, 24, 28 (4 h), each 0.0001. 1 h bars 00:00 to 39:00;
    # the long fills at 01:00 and pays at 08, 16, 20, 24, 28 (5 x 100 x 0.0001 = 0.05). The
    # series ends at 28:00 + its last interval, 4 h: from 32:00 the run's constant schedule
    # (8 h, rate 0.0003) takes over: 32:00 pays 100 x 0.0003 = 0.03. Total 0.08.
    hours = [0, 8, 16, 20, 24, 28]
    times = pd.DatetimeIndex(
        [pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=h) for h in hours]
    )
    market = make_market([FLAT] * 40, funding=pd.Series([0.0001] * 6, index=times))
    result, _ = run_script(market, {0: lambda s: s.buy(1.0)}, funding_rate=0.0003)
    assert result.metrics["funding_paid"] == pytest.approx(0.08)


def test_an_unsorted_funding_series_is_refused(make_market: MarketBuilder) -> None:
    times = pd.DatetimeIndex(["2024-01-01 08:00", "2024-01-01 00:00"], tz="UTC")
    with pytest.raises(MarketDataError, match="funding times must strictly increase"):
        make_market([FLAT] * 3, funding=pd.Series([0.0001, 0.0002], index=times))


@PROPERTY_SETTINGS
@given(scenarios(), st.integers(0, 2**32 - 1))
def test_skipping_quiet_bars_changes_nothing_with_a_mark_series(
    scenario: Scenario, seed: int
) -> None:
    # The mark is the trade bar scaled by a factor in [0.97, 1.03] per bar (OHLC rules kept):
    # the broker's schedule must see the bars where only the mark reaches a level.
    market = scenario.market()
    factor = np.random.default_rng(seed).uniform(0.97, 1.03, len(market))
    marked = dataclasses.replace(
        market, **{f"mark_{name}": getattr(market, name) * factor for name in OHLC_NAMES}
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        scheduled = run_backtest(RandomTrader, marked, scenario.config())
        monkeypatch.setattr(Broker, "_schedule", every_bar_schedule)
        checked = run_backtest(RandomTrader, marked, scenario.config())
    assert scheduled.trades == checked.trades
    assert scheduled.orders == checked.orders
    np.testing.assert_array_equal(scheduled.equity.equity, checked.equity.equity)
