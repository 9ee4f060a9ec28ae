"""Trend indicators whose pandas-ta versions loop in Python or chain slow steps: supertrend,
adx, dm, psar."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas_ta.ma import ma as pandas_ta_ma

from app.engine.fast_indicators.primitives import ewm_mean, kernel, shifted
from app.engine.fast_indicators.ranges import atr_rma
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
EPSILON = float(np.finfo(np.float64).eps)
# pandas-ta annotates its keyword settings as dicts; they are plain numbers and names here.
ma: Callable[..., pd.Series | None] = pandas_ta_ma


@kernel
def _supertrend_bands(
    close: FloatArray, lower: FloatArray, upper: FloatArray, length: int
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:  # pragma: no cover
    """pandas-ta's loop (overlap/supertrend.py): a band only tightens while the direction
    holds; the direction flips when the close crosses the previous bar's other band."""
    m = close.size
    direction = np.ones(m)
    trend = np.zeros(m)
    long = np.full(m, np.nan)
    short = np.full(m, np.nan)
    for i in range(1, m):
        if close[i] > upper[i - 1]:
            direction[i] = 1.0
        elif close[i] < lower[i - 1]:
            direction[i] = -1.0
        else:
            direction[i] = direction[i - 1]
            if direction[i] > 0 and lower[i] < lower[i - 1]:
                lower[i] = lower[i - 1]
            if direction[i] < 0 and upper[i] > upper[i - 1]:
                upper[i] = upper[i - 1]
        if direction[i] > 0:
            trend[i] = lower[i]
            long[i] = lower[i]
        else:
            trend[i] = upper[i]
            short[i] = upper[i]
    trend[0] = np.nan
    direction[: min(length, m)] = np.nan
    return trend, direction, long, short


def supertrend(bars: Bars, settings: Settings) -> Columns:
    """SuperTrend: hl2 -/+ multiplier x ATR bands, columns SUPERT, SUPERTd, SUPERTl,
    SUPERTs with the `_{length}_{multiplier}` suffix."""
    length = settings.positive_int("length", 7)
    atr_length = settings.positive_int("atr_length", length)
    multiplier = settings.positive_number("multiplier", 3.0)
    settings.choice("atr_mamode", frozenset({"rma"}), "rma")
    offset = settings.offset()
    settings.done()
    bars.require(max(length, atr_length) + 1)
    mid = 0.5 * (bars.high + bars.low)
    distance = multiplier * atr_rma(bars, atr_length)
    trend, direction, long, short = _supertrend_bands(
        bars.close, mid - distance, mid + distance, length
    )
    suffix = f"_{length}_{multiplier}"
    return {
        f"SUPERT{suffix}": shifted(trend, offset),
        f"SUPERTd{suffix}": shifted(direction, offset),
        f"SUPERTl{suffix}": shifted(long, offset),
        f"SUPERTs{suffix}": shifted(short, offset),
    }


def _directional_movement(
    high: FloatArray, low: FloatArray, drift: int
) -> tuple[FloatArray, FloatArray]:
    """+DM and -DM before smoothing (pandas_ta/trend/adx.py): the larger positive move of
    the high up or the low down, others 0, values under machine epsilon set to 0."""
    up = high - shifted(high, drift)
    down = shifted(low, drift) - low
    with np.errstate(invalid="ignore"):
        positive = ((up > down) & (up > 0)) * up
        negative = ((down > up) & (down > 0)) * down
        positive[np.abs(positive) < EPSILON] = 0.0
        negative[np.abs(negative) < EPSILON] = 0.0
    return positive, negative


def adx(bars: Bars, settings: Settings) -> Columns:
    """Average directional index with its rating and the directional indicators, columns
    ADX_{signal_length}, ADXR_{signal_length}_{adxr_length}, DMP_{length}, DMN_{length}
    (Wilder smoothing throughout; pandas-ta's default, non-TradingView mode)."""
    length = settings.positive_int("length", 14)
    signal_length = settings.positive_int("signal_length", length)
    adxr_length = settings.positive_int("adxr_length", 2)
    scalar = settings.number("scalar", 100.0)
    settings.choice("mamode", frozenset({"rma"}), "rma")
    if settings.flag("tvmode", False):
        raise NotOnFastPath("tvmode=True")
    drift = settings.drift()
    offset = settings.offset()
    settings.done()
    bars.require(max(length + 1, signal_length, adxr_length))
    with np.errstate(divide="ignore", invalid="ignore"):
        k = scalar / atr_rma(bars, length, is_prenan=True)
        positive, negative = _directional_movement(bars.high, bars.low, drift)
        plus = k * ewm_mean(positive, 1.0 / length, False)
        minus = k * ewm_mean(negative, 1.0 / length, False)
        dx = scalar * np.abs(plus - minus) / (plus + minus)
    average = ewm_mean(dx, 1.0 / signal_length, False)
    rating = 0.5 * (average + shifted(average, adxr_length))
    return {
        f"ADX_{signal_length}": shifted(average, offset),
        f"ADXR_{signal_length}_{adxr_length}": shifted(rating, offset),
        f"DMP_{length}": shifted(plus, offset),
        f"DMN_{length}": shifted(minus, offset),
    }


@kernel
def _psar_loop(
    high: FloatArray, low: FloatArray, af0: float, max_af: float, is_falling: bool
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:  # pragma: no cover
    """Wilder's parabolic SAR as pandas_ta/trend/psar.py loops it (no close: the SAR starts
    at the first bar's extreme against the initial direction)."""
    m = high.size
    sar = np.zeros(m)
    long = np.full(m, np.nan)
    short = np.full(m, np.nan)
    reversal = np.zeros(m)
    acceleration = np.zeros(m)
    acceleration[:2] = af0
    af = af0
    falling = is_falling
    ep = low[0] if falling else high[0]
    sar[0] = high[0] if falling else low[0]
    for i in range(1, m):
        sar[i] = sar[i - 1] + af * (ep - sar[i - 1])
        if falling:
            reverse = high[i] > sar[i]
            if low[i] < ep:
                ep = low[i]
                af = min(af + af0, max_af)
            sar[i] = max(high[i - 1], sar[i])
        else:
            reverse = low[i] < sar[i]
            if high[i] > ep:
                ep = high[i]
                af = min(af + af0, max_af)
            sar[i] = min(low[i - 1], sar[i])
        if reverse:
            sar[i] = ep
            af = af0
            falling = not falling
            ep = low[i] if falling else high[i]
        if falling:
            short[i] = sar[i]
        else:
            long[i] = sar[i]
        acceleration[i] = af
        reversal[i] = 1.0 if reverse else 0.0
    return long, short, acceleration, reversal


def psar(bars: Bars, settings: Settings) -> Columns:
    """Parabolic stop and reverse, columns PSARl, PSARs, PSARaf, PSARr with
    `_{af0}_{max_af}`. The first direction is falling when bar 1's low drops further than
    its high rises (pandas-ta's `_falling`)."""
    step = settings.positive_number("af", 0.02)
    af0 = settings.positive_number("af0", step)
    max_af = settings.positive_number("max_af", 0.2)
    settings.flag("tv", False)  # read and unused by pandas-ta
    offset = settings.offset()
    settings.done()
    bars.require(2)
    up = bars.high[1] - bars.high[0]
    down = bars.low[0] - bars.low[1]
    minus_dm = down if (down > up and down > 0) else 0.0
    is_falling = bool(abs(minus_dm) >= EPSILON and minus_dm > 0)
    columns = _psar_loop(bars.high, bars.low, float(af0), float(max_af), is_falling)
    suffix = f"_{af0}_{max_af}"
    names = (f"PSARl{suffix}", f"PSARs{suffix}", f"PSARaf{suffix}", f"PSARr{suffix}")
    return {name: shifted(v, offset) for name, v in zip(names, columns, strict=True)}


def dm(bars: Bars, settings: Settings) -> Columns:
    """Directional movement +DM and -DM, smoothed by `mamode` (pandas-ta's own moving
    averages; Wilder's rma by default), columns DMP_{length}, DMN_{length}. pandas-ta zeroes
    tiny moves with a Python call per bar: that step is the vectorised one here."""
    length = settings.positive_int("length", 14)
    mamode = settings.text("mamode", "rma")
    drift = settings.drift()
    offset = settings.offset()
    settings.done()
    bars.require(length)
    positive, negative = _directional_movement(bars.high, bars.low, drift)
    index = bars.frame.index
    smoothed = []
    for values in (positive, negative):
        try:
            series = ma(mamode, pd.Series(values, index=index), length=length)
        except Exception as error:  # pandas-ta raises many types for settings it cannot use
            raise NotOnFastPath(f"pandas-ta fails here: {error}") from None
        if series is None:
            raise NotOnFastPath("pandas-ta returns nothing here")
        smoothed.append(np.ascontiguousarray(series.to_numpy(dtype=np.float64)))
    return {
        f"DMP_{length}": shifted(smoothed[0], offset),
        f"DMN_{length}": shifted(smoothed[1], offset),
    }
