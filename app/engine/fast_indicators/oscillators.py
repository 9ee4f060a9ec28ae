"""Oscillators, regressions and window statistics whose pandas-ta versions apply Python per
window: cci, mad, aroon, linreg, cfo, sinwma."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from pandas_ta.overlap.sma import nb_sma  # pandas-ta's own SMA kernel: the same bits

from app.engine.fast_indicators.primitives import shifted
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.fast_indicators.windows import (
    ANGLE,
    ANGLE_DEGREES,
    CORRELATION,
    FORECAST,
    INTERCEPT,
    LINE,
    SLOPE,
    bars_since_extreme,
    linear_regression,
    mean_absolute_deviation,
)
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]


def cci(bars: Bars, settings: Settings) -> Columns:
    """Commodity channel index as pandas-ta 0.4.71b0 computes it, column CCI_{length}_{c}.

    pandas-ta writes `tp - sma / (c * mad)` (operator precedence: the typical price minus
    the ratio), not the textbook `(tp - sma) / (c * mad)`; its numbers are kept, and the
    difference is documented in docs/engine.md."""
    length = settings.positive_int("length", 14)
    c = settings.positive_number("c", 0.015)
    offset = settings.offset()
    settings.done()
    bars.require(length)
    if length < 2:  # pandas-ta's nb_sma returns no values for length 1, and its sma raises
        raise NotOnFastPath("sma of length 1")
    typical = (bars.high + bars.low + bars.close) / 3.0
    mean = nb_sma(typical, length)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = typical - mean / (c * mean_absolute_deviation(typical, length))
    return {f"CCI_{length}_{c}": shifted(values, offset)}


def aroon(bars: Bars, settings: Settings) -> Columns:
    """Aroon down, up and oscillator: 100 x (1 - bars since the window's low/high / length)
    over length + 1 bars; columns AROOND, AROONU, AROONOSC with `_{length}`."""
    length = settings.positive_int("length", 14)
    scalar = settings.number("scalar", 100.0)
    offset = settings.offset()
    settings.done()
    bars.require(length + 1)
    up = scalar * (1 - bars_since_extreme(bars.high, length + 1, True) / length)
    down = scalar * (1 - bars_since_extreme(bars.low, length + 1, False) / length)
    return {
        f"AROOND_{length}": shifted(down, offset),
        f"AROONU_{length}": shifted(up, offset),
        f"AROONOSC_{length}": shifted(up - down, offset),
    }


def linreg(bars: Bars, settings: Settings) -> Columns:
    """Linear regression over `length` bars, column LINREG{m,b,a,r}_{length}: the line's end
    value, or with a flag its slope, intercept, angle (degrees), r, or forecast (tsf)."""
    length = settings.positive_int("length", 14)
    is_angle = settings.flag("angle", False)
    is_intercept = settings.flag("intercept", False)
    is_degrees = settings.flag("degrees", False)
    is_r = settings.flag("r", False)
    is_slope = settings.flag("slope", False)
    is_tsf = settings.flag("tsf", False)
    offset = settings.offset()
    settings.done()
    bars.require(length)
    if is_slope:
        line = SLOPE
    elif is_intercept:
        line = INTERCEPT
    elif is_angle:
        line = ANGLE_DEGREES if is_degrees else ANGLE
    elif is_r:
        line = CORRELATION
    else:
        line = FORECAST if is_tsf else LINE
    name = "LINREG" + "".join(
        letter
        for letter, is_set in (("m", is_slope), ("b", is_intercept), ("a", is_angle), ("r", is_r))
        if is_set
    )
    values = linear_regression(bars.close, length, line)
    return {f"{name}_{length}": shifted(values, offset)}


def cfo(bars: Bars, settings: Settings) -> Columns:
    """Chande forecast oscillator: scalar x (close - linreg forecast) / close, CFO_{length}."""
    length = settings.positive_int("length", 9)
    scalar = settings.number("scalar", 100.0)
    settings.drift()  # accepted and unused, as in pandas-ta
    offset = settings.offset()
    settings.done()
    bars.require(length)
    close = bars.close
    values = scalar * (close - linear_regression(close, length, FORECAST)) / close
    return {f"CFO_{length}": shifted(values, offset)}


def mad(bars: Bars, settings: Settings) -> Columns:
    """Mean absolute deviation from the window's mean, column MAD_{length}."""
    length = settings.positive_int("length", 30)
    offset = settings.offset()
    settings.done()
    bars.require(length)
    return {f"MAD_{length}": shifted(mean_absolute_deviation(bars.close, length), offset)}


def sinwma(bars: Bars, settings: Settings) -> Columns:
    """Sine-weighted moving average, column SINWMA_{length}: weights sin(k pi / (length + 1))
    for k = 1..length, normalised to sum 1 (a dot product per window, as pandas-ta's)."""
    length = settings.positive_int("length", 14)
    offset = settings.offset()
    settings.done()
    bars.require(length)
    sines = np.array([np.sin((i + 1) * np.pi / (length + 1)) for i in range(length)])
    weights = sines / sines.sum()
    values = np.full(bars.size, np.nan)
    values[length - 1 :] = sliding_window_view(bars.close, length) @ weights
    return {f"SINWMA_{length}": shifted(values, offset)}
