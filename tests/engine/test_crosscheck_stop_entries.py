"""Cross-check: stop entries with a take-profit give backtesting.py's trades, including the ones
that exit at the take-profit in the bar the stop filled (any path from the open to the extreme
crosses the stop before the target: both engines exit there).

Each bar a flat strategy replaces its stop order: a buy stop above the bar's high with a target
0.3 % above it when the close is above its 20-bar mean, else a sell stop below the low with a
target 0.3 % below; a position still open 12 bars after its entry bar (`position.entry_bar`)
is closed at the next open. No stop-loss, so the bars where backtesting.py defers an exit to
the next bar (a stop-loss inside the entry bar) never arise. Futures at 1x, no fees, slippage
or funding.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting import Strategy as BtStrategy

from app.engine import Bar, MarketData, SeriesView, Strategy, run_backtest

from .test_crosscheck_backtesting import CASH, CROSSCHECK_CONFIG, _sma, epoch_ns, synthetic_hours

LENGTH = 20
BEYOND = 0.0005  # the stop, this far beyond the bar's extreme
TARGET = 0.003  # the take-profit, this far beyond the stop
HOLD = 12  # bars after its entry bar a position is closed at the next open if still open


class StopEntries(Strategy):
    def initialize(self) -> None:
        mean = self.indicator("sma", length=LENGTH)
        assert isinstance(mean, SeriesView)
        self.mean = mean

    def on_data(self, bar: Bar) -> None:
        if bar.index < LENGTH or math.isnan(self.mean[-1]):  # backtesting.py's first next()
            return
        if self.position.is_open:
            entry_bar = self.position.entry_bar
            if entry_bar is not None and bar.index - entry_bar >= HOLD:
                self.close_position()
            return
        for ticket in self.open_orders:
            self.cancel(ticket)
        if bar.close > self.mean[-1]:
            stop = bar.high * (1 + BEYOND)
            self.buy(1.0, stop=stop, take_profit=stop * (1 + TARGET))
        else:
            stop = bar.low * (1 - BEYOND)
            self.sell(1.0, stop=stop, take_profit=stop * (1 - TARGET))


class BtStopEntries(BtStrategy):  # type: ignore[misc]
    def init(self) -> None:
        self.mean = self.I(_sma, self.data.Close, LENGTH)

    def next(self) -> None:
        if self.position:
            if len(self.data) - 1 - self.trades[0].entry_bar >= HOLD:
                self.position.close()
            return
        for order in list(self.orders):
            order.cancel()
        high, low, close = self.data.High[-1], self.data.Low[-1], self.data.Close[-1]
        if close > self.mean[-1]:
            stop = high * (1 + BEYOND)
            self.buy(size=1, stop=stop, tp=stop * (1 + TARGET))
        else:
            stop = low * (1 - BEYOND)
            self.sell(size=1, stop=stop, tp=stop * (1 - TARGET))


def run_backtesting_py(frame: pd.DataFrame) -> pd.DataFrame:
    data = frame.rename(columns=str.capitalize)
    data.index = pd.DatetimeIndex(data.index).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its own notes on data and pandas, not results
        stats = Backtest(
            data,
            BtStopEntries,
            cash=CASH,
            commission=0.0,
            trade_on_close=False,
            finalize_trades=True,
        ).run()
    trades: pd.DataFrame = stats["_trades"]
    return trades


@pytest.mark.parametrize("seed", [5, 77])
def test_stop_entries_with_a_take_profit_match_backtesting_py(seed: int) -> None:
    frame = synthetic_hours(2_000, seed)
    ours = run_backtest(StopEntries, MarketData.from_frame(frame), CROSSCHECK_CONFIG)
    theirs = run_backtesting_py(frame)
    same_bar = [t for t in ours.trades if t.entry_index == t.exit_index]
    assert len(same_bar) > 100  # the case the rule is about occurs, many times
    assert len(ours.trades) == len(theirs) > 200
    expected = pd.DataFrame(
        {
            "entry": epoch_ns(theirs["EntryTime"]),
            "exit": epoch_ns(theirs["ExitTime"]),
            "size": theirs["Size"].to_numpy(dtype=np.float64),
            "entry_price": theirs["EntryPrice"].to_numpy(dtype=np.float64),
            "exit_price": theirs["ExitPrice"].to_numpy(dtype=np.float64),
        }
    )
    got = pd.DataFrame(
        {
            "entry": [t.entry_time for t in ours.trades],
            "exit": [t.exit_time for t in ours.trades],
            "size": [t.size if t.side.value == "long" else -t.size for t in ours.trades],
            "entry_price": [t.entry_price for t in ours.trades],
            "exit_price": [t.exit_price for t in ours.trades],
        }
    )
    # The last trade may be an end-of-data close: backtesting.py's at the last open, ours at
    # the last close (see test_crosscheck_backtesting.py); every other trade agrees.
    last_is_open = ours.trades[-1].exit_reason.value == "end_of_data"
    upto = len(got) - 1 if last_is_open else len(got)
    pd.testing.assert_frame_equal(
        got.iloc[:upto], expected.iloc[:upto], check_exact=False, rtol=1e-12, atol=1e-9
    )
