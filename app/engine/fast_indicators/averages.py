"""Moving averages whose pandas-ta versions loop in Python: smma, alligator, kama, mcgd."""

from __future__ import annotations

import numpy as np
from pandas_ta.overlap.sma import nb_sma  # pandas-ta's own SMA kernel: the same bits

from app.engine.fast_indicators.primitives import kernel, rolling_sum, shifted
from app.engine.fast_indicators.ranges import non_zero_range
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]


def first_sma(values: FloatArray, length: int) -> float:
    """The SMA of the first `length` values, as pandas-ta seeds smma and kama with."""
    if length < 2:  # pandas-ta's nb_sma returns no values for length 1, and its sma raises
        raise NotOnFastPath("sma of length 1")
    return float(nb_sma(np.ascontiguousarray(values[:length]), length)[-1])


@kernel
def _smma_loop(close: FloatArray, length: int, seed: float) -> FloatArray:  # pragma: no cover
    """smma[t] = ((length - 1) * smma[t - 1] + close[t]) / length, from the seed at
    length - 1 (pandas_ta/overlap/smma.py)."""
    out = close.copy()
    out[: length - 1] = np.nan
    out[length - 1] = seed
    for i in range(length, close.size):
        out[i] = ((length - 1) * out[i - 1] + out[i]) / length
    return out


def smma_values(close: FloatArray, length: int) -> FloatArray:
    return np.asarray(_smma_loop(close, length, first_sma(close, length)))


def smma(bars: Bars, settings: Settings) -> Columns:
    """Smoothed moving average, column SMMA_{length}."""
    length = settings.positive_int("length", 7)
    settings.choice("mamode", frozenset({"sma"}), "sma")
    offset = settings.offset()
    settings.done()
    bars.require(length)
    return {f"SMMA_{length}": shifted(smma_values(bars.close, length), offset)}


def alligator(bars: Bars, settings: Settings) -> Columns:
    """Bill Williams' alligator: three smma lines, columns AGj, AGt, AGl with the
    `_{jaw}_{teeth}_{lips}` suffix (pandas-ta does not shift them forward)."""
    jaw = settings.positive_int("jaw", 13)
    teeth = settings.positive_int("teeth", 8)
    lips = settings.positive_int("lips", 5)
    offset = settings.offset()
    settings.done()
    bars.require(max(jaw, teeth, lips))
    suffix = f"_{jaw}_{teeth}_{lips}"
    return {
        f"AGj{suffix}": shifted(smma_values(bars.close, jaw), offset),
        f"AGt{suffix}": shifted(smma_values(bars.close, teeth), offset),
        f"AGl{suffix}": shifted(smma_values(bars.close, lips), offset),
    }


@kernel
def _kama_loop(
    close: FloatArray, smoothing: FloatArray, length: int, seed: float
) -> FloatArray:  # pragma: no cover
    out = np.full(close.size, np.nan)
    out[length - 1] = seed
    for i in range(length, close.size):
        out[i] = smoothing[i] * close[i] + (1 - smoothing[i]) * out[i - 1]
    return out


def kama(bars: Bars, settings: Settings) -> Columns:
    """Kaufman's adaptive moving average, column KAMA_{length}_{fast}_{slow}: the smoothing
    constant follows the efficiency ratio |change over length| / sum of |bar changes|."""
    length = settings.positive_int("length", 10)
    fast = settings.positive_int("fast", 2)
    slow = settings.positive_int("slow", 30)
    settings.choice("mamode", frozenset({"sma"}), "sma")
    drift = settings.drift()
    offset = settings.offset()
    settings.done()
    bars.require(max(fast, slow, length))
    close = bars.close
    fast_rate, slow_rate = 2 / (fast + 1), 2 / (slow + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        change = np.abs(non_zero_range(close, shifted(close, length)))
        bar_change = np.abs(non_zero_range(close, shifted(close, drift)))
        ratio = change / rolling_sum(bar_change, length, length)
    x = ratio * (fast_rate - slow_rate) + slow_rate
    values = _kama_loop(close, x * x, length, first_sma(close, length))
    return {f"KAMA_{length}_{fast}_{slow}": shifted(values, offset)}


@kernel
def _mcginley_loop(close: FloatArray, length: int, k: float) -> FloatArray:  # pragma: no cover
    """pandas_ta/overlap/mcgd.py applies its step to rolling windows of 2 and writes the
    result back into the window, so each step starts from the previous result:
    md = prev + (close - prev) / (k n (close / prev)^4), from prev = close[0]."""
    out = np.full(close.size, np.nan)
    previous = close[0]
    for i in range(1, close.size):
        d = k * length * (close[i] / previous) ** 4.0
        previous = previous + ((close[i] - previous) / d)
        out[i] = previous
    return out


def mcgd(bars: Bars, settings: Settings) -> Columns:
    """McGinley dynamic, column MCGD_{length}; `c` is used only as a float in (0, 1]
    (pandas-ta's rule; anything else means 1)."""
    length = settings.positive_int("length", 10)
    c = settings.value("c")
    k = float(c) if isinstance(c, float) and 0 < c <= 1 else 1.0
    offset = settings.offset()
    settings.done()
    bars.require(max(length, 2))
    return {f"MCGD_{length}": shifted(_mcginley_loop(bars.close, length, k), offset)}
