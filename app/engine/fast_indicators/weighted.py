"""Weighted moving averages that pandas-ta applies as a Python dot product per window
(fwma, pwma, swma) and rvgi, built on swma. The weights come from pandas-ta's own helpers;
one matrix product over all windows replaces the per-window calls."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pandas_ta.utils import fibonacci, pascals_triangle, symmetric_triangle

from app.engine.fast_indicators.primitives import rolling_sum, shifted
from app.engine.fast_indicators.ranges import non_zero_range
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]


def weighted_average(values: FloatArray, weights: FloatArray) -> FloatArray:
    """`rolling(len(weights), min_periods=len(weights)).apply(dot(weights, window))`: NaN
    until a full window, and wherever a window holds a NaN."""
    length = weights.size
    out = np.full(values.size, np.nan)
    if values.size >= length:
        out[length - 1 :] = sliding_window_view(values, length) @ weights
    return out


def _weights(make: Callable[[], object], length: int) -> FloatArray:
    """pandas-ta's weights for `length`; a count that does not match the window (pandas-ta
    then fails) is left to pandas-ta."""
    weights = np.asarray(make(), dtype=np.float64)
    if weights.shape != (length,):
        raise NotOnFastPath(f"{weights.size} weights for a window of {length}")
    return weights


def _moving_average(
    bars: Bars, settings: Settings, prefix: str, make: Callable[[int], object]
) -> Columns:
    length = settings.positive_int("length", 10)
    if prefix != "SWMA":
        settings.flag("asc", True)  # read and unused by pandas-ta
    offset = settings.offset()
    settings.done()
    bars.require(length)
    weights = _weights(lambda: make(length), length)
    return {f"{prefix}_{length}": shifted(weighted_average(bars.close, weights), offset)}


def fwma(bars: Bars, settings: Settings) -> Columns:
    """Fibonacci-weighted moving average, column FWMA_{length}."""
    return _moving_average(
        bars, settings, "FWMA", lambda length: fibonacci(n=length, weighted=True)
    )


def pwma(bars: Bars, settings: Settings) -> Columns:
    """Pascal's-triangle-weighted moving average, column PWMA_{length}."""
    return _moving_average(
        bars, settings, "PWMA", lambda length: pascals_triangle(n=length - 1, weighted=True)
    )


def swma(bars: Bars, settings: Settings) -> Columns:
    """Symmetric-triangle-weighted moving average, column SWMA_{length}."""
    return _moving_average(
        bars, settings, "SWMA", lambda length: symmetric_triangle(length, weighted=True)
    )


def rvgi(bars: Bars, settings: Settings) -> Columns:
    """Relative vigour index: swma-smoothed (close - open) over swma-smoothed (high - low),
    each summed over `length`, with its swma signal; RVGI and RVGIs `_{length}_{swma}`."""
    length = settings.positive_int("length", 14)
    swma_length = settings.positive_int("swma_length", 4)
    offset = settings.offset()
    settings.done()
    bars.require(length + swma_length - 1)
    weights = _weights(lambda: symmetric_triangle(swma_length, weighted=True), swma_length)
    numerator = rolling_sum(
        weighted_average(non_zero_range(bars.close, bars.open), weights), length, length
    )
    denominator = rolling_sum(
        weighted_average(non_zero_range(bars.high, bars.low), weights), length, length
    )
    values = numerator / denominator
    signal = weighted_average(np.ascontiguousarray(values), weights)
    if np.isnan(signal).all():
        raise NotOnFastPath("pandas-ta returns nothing here")
    suffix = f"_{length}_{swma_length}"
    return {f"RVGI{suffix}": shifted(values, offset), f"RVGIs{suffix}": shifted(signal, offset)}
