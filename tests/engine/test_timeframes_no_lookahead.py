"""Higher timeframes inside a run: aggregation equals pandas, and a strategy only ever sees
higher-timeframe bars that have closed, checked bar by bar against the raw data."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pandas_ta as ta
import pytest

from app.data import generate_ohlcv
from app.engine import IndicatorError, MarketData, RunConfig, Strategy, run_backtest
from app.engine.feed import Bar
from app.engine.timeframes import parse_duration_ns, resample

AGG = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


@pytest.fixture(scope="module")
def minute_frame() -> pd.DataFrame:
    frame = generate_ohlcv(bars=3_000, timeframe="1m", start="2023-01-06 21:17", seed=5)
    return frame.drop(frame.index[500:620])  # a two-hour hole: bins must still line up


@pytest.mark.parametrize(
    ("rule", "pandas_rule", "origin"),
    [
        ("5m", "5min", "epoch"),
        ("15m", "15min", "epoch"),
        ("1h", "1h", "epoch"),
        ("4h", "4h", "epoch"),
        ("1d", "24h", "epoch"),
        ("1w", "168h", "1970-01-05"),
    ],
)
def test_resample_equals_pandas(
    minute_frame: pd.DataFrame, rule: str, pandas_rule: str, origin: str
) -> None:
    ours = resample(MarketData.from_frame(minute_frame), parse_duration_ns(rule)).to_frame()
    theirs = (
        minute_frame.resample(
            pandas_rule,
            label="left",
            closed="left",
            origin=pd.Timestamp(origin, tz="UTC") if origin != "epoch" else "epoch",
        )
        .agg(AGG)
        .dropna()
    )
    pd.testing.assert_frame_equal(ours, theirs, check_freq=False, check_index_type=False)


class Recorder(Strategy):
    """Records, at every base bar, what the 15m and 4h timeframes show."""

    seen: ClassVar[list[tuple[int, int, float, float, int, float, float]]] = []

    def initialize(self) -> None:
        self.quarter = self.timeframe("15m")
        self.four = self.timeframe("4h")
        self.four_sma = self.four.indicator("sma", length=3)

    def on_data(self, bar: Bar) -> None:
        q, f = self.quarter, self.four
        Recorder.seen.append(
            (
                bar.index,
                len(q.close),
                q.close[-1] if len(q.close) else np.nan,
                q.high[-1] if len(q.high) else np.nan,
                len(f.close),
                f.close[-1] if len(f.close) else np.nan,
                self.four_sma[-1] if len(self.four_sma) else np.nan,
            )
        )


def expected_view(
    frame: pd.DataFrame, rule: pd.Timedelta, now_close: pd.Timestamp
) -> tuple[int, float, float]:
    """Independently: bins of `rule` from the raw bars whose bin ended by `now_close`."""
    bins = frame.index.floor(rule)
    closed = frame[bins + rule <= now_close]
    if closed.empty:
        return 0, np.nan, np.nan
    grouped = closed.groupby(closed.index.floor(rule))
    return (
        grouped.ngroups,
        float(grouped["close"].last().iloc[-1]),
        float(grouped["high"].max().iloc[-1]),
    )


def test_a_strategy_sees_only_closed_higher_bars(minute_frame: pd.DataFrame) -> None:
    Recorder.seen = []
    run_backtest(Recorder, MarketData.from_frame(minute_frame), RunConfig())
    four_closes = minute_frame.resample("4h", label="left", closed="left").agg(AGG).dropna()
    sma = ta.sma(four_closes["close"], length=3).to_numpy()
    minute = pd.Timedelta("1min")
    for index, q_len, q_close, q_high, f_len, f_close, f_sma in Recorder.seen[::7]:
        now_close = minute_frame.index[index] + minute
        assert (q_len, q_close, q_high) == pytest.approx(
            expected_view(minute_frame, pd.Timedelta("15min"), now_close), nan_ok=True
        )
        n, close, _ = expected_view(minute_frame, pd.Timedelta("4h"), now_close)
        assert (f_len, f_close) == pytest.approx((n, close), nan_ok=True)
        assert f_sma == pytest.approx(sma[n - 1] if n else np.nan, nan_ok=True)


class LateTimeframe(Strategy):
    def on_data(self, bar: Bar) -> None:
        self.timeframe("4h")


def test_timeframes_are_declared_in_initialize(minute_frame: pd.DataFrame) -> None:
    with pytest.raises(Exception, match="declared in initialize"):
        run_backtest(LateTimeframe, MarketData.from_frame(minute_frame), RunConfig())


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("1M", "calendar months"),
        ("90s", "whole multiple"),
        ("7x", "not understood"),
    ],
)
def test_bad_timeframes_are_explained(minute_frame: pd.DataFrame, rule: str, message: str) -> None:
    class Asks(Strategy):
        def initialize(self) -> None:
            self.timeframe(rule)

        def on_data(self, bar: Bar) -> None:
            pass

    with pytest.raises(IndicatorError, match=message):
        run_backtest(Asks, MarketData.from_frame(minute_frame), RunConfig())
