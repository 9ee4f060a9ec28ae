"""True range and ATR as pandas-ta computes them (pandas_ta/volatility/true_range.py, atr.py),
the building blocks of supertrend, adx and the other range-based indicators."""

from __future__ import annotations

import sys

import numpy as np

from app.engine.fast_indicators.primitives import ewm_mean
from app.engine.fast_indicators.settings import Bars
from app.engine.feed import FloatArray


def non_zero_range(high: FloatArray, low: FloatArray) -> FloatArray:
    """pandas-ta's `non_zero_range`: high - low, plus machine epsilon on *every* bar as soon as
    one bar has a zero range (a quirk kept for equal numbers)."""
    diff = high - low
    if (diff == 0).any():
        diff = diff + sys.float_info.epsilon
    return diff


def true_range(bars: Bars, drift: int) -> FloatArray:
    """max(|high - low|, |high - close[t - drift]|, |close[t - drift] - low|), NaNs skipped."""
    previous = np.full(bars.size, np.nan)
    previous[drift:] = bars.close[:-drift]
    with np.errstate(invalid="ignore"):
        stacked = np.abs(
            np.vstack(
                (non_zero_range(bars.high, bars.low), bars.high - previous, previous - bars.low)
            )
        )
    return np.asarray(np.fmax(np.fmax(stacked[0], stacked[1]), stacked[2]), dtype=np.float64)


def atr_rma(bars: Bars, length: int, *, is_prenan: bool = False) -> FloatArray:
    """pandas-ta's default ATR (mamode "rma", presma): the mean of the first `length` true
    ranges seeds Wilder's moving average (ewm with alpha = 1 / length). With `is_prenan`
    (as adx asks) the first true range is NaN and the seed averages the other length - 1.

    Needs `length + 1` bars (pandas-ta's own minimum); callers check it first."""
    ranges = true_range(bars, 1)
    if is_prenan:
        ranges[0] = np.nan
    first = ranges[:length]
    known = ~np.isnan(first)
    with np.errstate(invalid="ignore", divide="ignore"):  # pandas' skipna mean: sum / count
        seed = float(np.where(known, first, 0.0).sum() / known.sum())
    ranges[: length - 1] = np.nan
    ranges[length - 1] = seed
    return ewm_mean(ranges, 1.0 / length, False)
