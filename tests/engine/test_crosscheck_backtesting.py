"""Cross-check: the SMA crossover gives the same trades and final equity as backtesting.py.

Futures mode at 1x with no fees, slippage or funding is plain cash trading of 1 unit, which
backtesting.py models exactly (next-open fills, finalize_trades closes at the last close).
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandas_ta as ta
import pytest
from backtesting import Backtest
from backtesting import Strategy as BtStrategy
from backtesting.lib import crossover as bt_crossover

from app.engine import Bar, MarketData, ParamValue, RunConfig, Strategy, crossover, run_backtest
from sandbox import run_sandboxed

CASH = 1_000_000.0
CROSSCHECK_CONFIG = RunConfig(
    cash=CASH, fee_maker=0.0, fee_taker=0.0, slippage_bps=0.0, funding_rate=0.0, leverage_max=1.0
)
FAST, SLOW = 10, 30


def synthetic_hours(bars: int, seed: int) -> pd.DataFrame:
    """Seeded 1 h bars around 30,000 with gaps at some opens and wicks beyond the body."""
    rng = np.random.default_rng(seed)
    closes = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, bars)))
    opens = np.concatenate(([30_000.0], closes[:-1])) * np.exp(rng.normal(0.0, 0.001, bars))
    highs = np.maximum(opens, closes) * np.exp(np.abs(rng.normal(0.0, 0.003, bars)))
    lows = np.minimum(opens, closes) * np.exp(-np.abs(rng.normal(0.0, 0.003, bars)))
    index = pd.date_range("2023-01-01", periods=bars, freq="1h", tz="UTC", name="time")
    return pd.DataFrame(
        {
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": rng.uniform(1.0, 100.0, bars),
        },
        index=index,
    )


class SmaCross(Strategy):
    params: ClassVar[dict[str, ParamValue]] = {"fast": FAST, "slow": SLOW}

    def initialize(self) -> None:
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])

    def on_data(self, bar: Bar) -> None:
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(1.0)


def _sma(values: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    return ta.sma(pd.Series(values), length).to_numpy(dtype=np.float64)


class BtSmaCross(BtStrategy):  # type: ignore[misc]
    fast = FAST
    slow = SLOW

    def init(self) -> None:
        self.sma_fast = self.I(_sma, self.data.Close, self.fast)
        self.sma_slow = self.I(_sma, self.data.Close, self.slow)

    def next(self) -> None:
        if bt_crossover(self.sma_fast, self.sma_slow):
            self.position.close()
            self.buy(size=1)
        elif bt_crossover(self.sma_slow, self.sma_fast):
            self.position.close()
            self.sell(size=1)


def run_backtesting_py(frame: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    data = frame.rename(columns=str.capitalize)
    data.index = pd.DatetimeIndex(data.index).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its own notes on data and pandas, not results
        stats = Backtest(
            data, BtSmaCross, cash=CASH, commission=0.0, trade_on_close=False, finalize_trades=True
        ).run()
    return stats["_trades"], float(stats["Equity Final [$]"])


def epoch_ns(times: pd.Series) -> npt.NDArray[np.int64]:
    return np.asarray(pd.DatetimeIndex(times).tz_localize("UTC").as_unit("ns").asi8)


@pytest.mark.parametrize("seed", [11, 2024])
def test_sma_crossover_matches_backtesting_py(seed: int) -> None:
    frame = synthetic_hours(5_000, seed)
    ours = run_backtest(SmaCross, MarketData.from_frame(frame), CROSSCHECK_CONFIG)
    theirs, their_final = run_backtesting_py(frame)

    assert len(ours.trades) == len(theirs) > 50
    expected = pd.DataFrame(
        {
            "entry": epoch_ns(theirs["EntryTime"]),
            "exit": epoch_ns(theirs["ExitTime"]),
            "size": theirs["Size"].to_numpy(dtype=np.float64),
            "entry_price": theirs["EntryPrice"].to_numpy(dtype=np.float64),
            "exit_price": theirs["ExitPrice"].to_numpy(dtype=np.float64),
            "pnl": theirs["PnL"].to_numpy(dtype=np.float64),
        }
    )
    got = pd.DataFrame(
        {
            "entry": [t.entry_time for t in ours.trades],
            "exit": [t.exit_time for t in ours.trades],
            "size": [t.size if t.side.value == "long" else -t.size for t in ours.trades],
            "entry_price": [t.entry_price for t in ours.trades],
            "exit_price": [t.exit_price for t in ours.trades],
            "pnl": [t.pnl for t in ours.trades],
        }
    )
    # backtesting.py's finalize_trades fills the closing order at the last bar's open (it
    # re-runs its broker on that bar); the engine's end-of-data close is at the last close.
    # Everything before that last exit agrees exactly.
    pd.testing.assert_frame_equal(
        got.iloc[:-1], expected.iloc[:-1], check_exact=False, rtol=1e-12, atol=1e-6
    )
    last_open, last_close = float(frame["open"].iloc[-1]), float(frame["close"].iloc[-1])
    assert got.iloc[-1][["entry", "exit", "size", "entry_price"]].tolist() == pytest.approx(
        expected.iloc[-1][["entry", "exit", "size", "entry_price"]].tolist(), rel=1e-12
    )
    assert (expected.iloc[-1]["exit_price"], got.iloc[-1]["exit_price"]) == (last_open, last_close)
    assert ours.trades[-1].exit_reason.value == "end_of_data"
    signed_size = float(got.iloc[-1]["size"])
    assert ours.metrics["final_equity"] == pytest.approx(
        their_final + signed_size * (last_close - last_open), rel=1e-12
    )
    assert ours.equity.equity[-1] == ours.metrics["final_equity"]


# The same strategy as a trader would upload it: source text, run through the sandbox.
SMA_SOURCE = """
class SmaCross(Strategy):
    params = {"fast": 10, "slow": 30}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(1.0)
"""


def test_the_sandboxed_cross_check_run_is_the_same_run() -> None:
    market = MarketData.from_frame(synthetic_hours(5_000, 11))
    in_process = run_backtest(SmaCross, market, CROSSCHECK_CONFIG)
    sandboxed = run_sandboxed(SMA_SOURCE, market, CROSSCHECK_CONFIG)
    assert len(sandboxed.trades) > 50
    assert sandboxed.trades == in_process.trades
    assert np.array_equal(sandboxed.equity.equity, in_process.equity.equity)
    assert sandboxed.metrics == in_process.metrics
