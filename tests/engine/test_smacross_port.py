"""backtesting.py's own SmaCross (its Quick Start: SMA 10/20, close and reverse on each cross),
ported with only the names changed and no warm-up guard, gives backtesting.py's trades on
backtesting.py's own GOOG data, read from its own CSV file (`,Open,High,Low,Close,Volume`).

The one difference is sizing: backtesting.py's `buy()` buys with all the equity (a whole
number of shares sized at the fill), `buy(1.0)` here one share, so trade times, sides and
prices are compared, and the PnL per share."""

from __future__ import annotations

import warnings
from pathlib import Path

import backtesting
import numpy as np
import pandas as pd
import pytest
from backtesting import Backtest
from backtesting import Strategy as BtStrategy
from backtesting.lib import crossover as bt_crossover
from backtesting.test import GOOG, SMA

from app.data import read_ohlcv
from app.engine import MarketData, Mode, RunConfig
from sandbox import run_sandboxed

GOOG_CSV = Path(backtesting.__file__).parent / "test" / "GOOG.csv"

# backtesting.py's Quick Start strategy, as its docs write it.


class SmaCross(BtStrategy):  # type: ignore[misc]
    n1 = 10
    n2 = 20

    def init(self) -> None:
        self.sma1 = self.I(SMA, self.data.Close, self.n1)
        self.sma2 = self.I(SMA, self.data.Close, self.n2)

    def next(self) -> None:
        if bt_crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif bt_crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


# The port: Strategy Lab's names (params, initialize, on_data, indicator, close_position,
# an amount for buy/sell); no NaN guard, no bar counting: the warm-up does that.
PORT = """
class SmaCross(Strategy):
    params = {"n1": 10, "n2": 20}

    def initialize(self):
        self.sma1 = self.indicator("sma", length=self.params["n1"])
        self.sma2 = self.indicator("sma", length=self.params["n2"])

    def on_data(self, bar):
        if crossover(self.sma1, self.sma2):
            self.close_position()
            self.buy(1.0)
        elif crossover(self.sma2, self.sma1):
            self.close_position()
            self.sell(1.0)
"""


def epoch_ns(times: pd.Series) -> list[int]:
    return [int(t) for t in pd.DatetimeIndex(times).tz_localize("UTC").as_unit("ns").asi8]


@pytest.mark.slow
def test_the_smacross_port_gives_backtesting_pys_trades() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # backtesting.py's notes on its data, not results
        stats = Backtest(GOOG, SmaCross, cash=10_000, commission=0.002).run()
    theirs = stats["_trades"]

    frame = read_ohlcv(GOOG_CSV)  # their CSV: an unnamed date column, capitalised OHLCV
    assert len(frame) == len(GOOG)
    config = RunConfig(
        mode=Mode.FUTURES, cash=10_000.0, fee_maker=0.0, fee_taker=0.0, funding_rate=0.0
    )
    ours = run_sandboxed(PORT, MarketData.from_frame(frame, symbol="GOOG"), config)

    # backtesting.py lists closed trades; the engine also closes the last one at the end.
    assert ours.trades[-1].exit_reason.value == "end_of_data"
    closed = ours.trades[:-1]
    assert len(closed) == len(theirs) > 40
    got = pd.DataFrame(
        {
            "entry": [t.entry_time for t in closed],
            "exit": [t.exit_time for t in closed],
            "long": [t.side.value == "long" for t in closed],
            "entry_price": [t.entry_price for t in closed],
            "exit_price": [t.exit_price for t in closed],
            "pnl_per_share": [t.pnl / t.size for t in closed],
        }
    )
    expected = pd.DataFrame(
        {
            "entry": epoch_ns(theirs["EntryTime"]),
            "exit": epoch_ns(theirs["ExitTime"]),
            "long": (theirs["Size"] > 0).to_list(),
            "entry_price": theirs["EntryPrice"].to_numpy(dtype=np.float64),
            "exit_price": theirs["ExitPrice"].to_numpy(dtype=np.float64),
            "pnl_per_share": (
                (theirs["ExitPrice"] - theirs["EntryPrice"]) * np.sign(theirs["Size"])
            ).to_numpy(dtype=np.float64),
        }
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
    # the port waited for sma(20) by itself: 19 bars, and its first trade after them
    assert ours.metrics["warmup_bars"] == 19
    assert closed[0].entry_time > int(frame.index[19].value)
