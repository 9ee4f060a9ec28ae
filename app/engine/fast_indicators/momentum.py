"""Momentum oscillators whose pandas-ta versions loop in Python or apply Python per window:
cti, inertia, fisher, rsx, cg. Vectorised inputs (rvi) come from pandas-ta itself."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pandas_ta.volatility import rvi as pandas_ta_rvi

from app.engine.fast_indicators.primitives import kernel, rolling_sum, shifted
from app.engine.fast_indicators.ranges import non_zero_range
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.fast_indicators.windows import CORRELATION, LINE, linear_regression
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
# pandas-ta annotates its keyword settings as dicts; they are plain numbers and names here.
rvi: Callable[..., pd.Series | None] = pandas_ta_rvi


def cti(bars: Bars, settings: Settings) -> Columns:
    """Correlation trend indicator: linreg's r over `length` bars, column CTI_{length}."""
    length = settings.positive_int("length", 12)
    offset = settings.offset()
    settings.done()
    bars.require(length)
    values = linear_regression(bars.close, length, CORRELATION)
    return {f"CTI_{length}": shifted(values, offset)}


def inertia(bars: Bars, settings: Settings) -> Columns:
    """Inertia: linreg of pandas-ta's relative volatility index, column
    INERTIA{r|t}_{length}_{rvi_length} (refined / thirds modes use high and low)."""
    length = settings.positive_int("length", 20)
    rvi_length = settings.positive_int("rvi_length", 14)
    scalar = settings.number("scalar", 100.0)
    is_refined = settings.flag("refined", False)
    is_thirds = settings.flag("thirds", False)
    mamode = settings.text("mamode", "ema")
    settings.drift()  # accepted and unused, as in pandas-ta
    offset = settings.offset()
    settings.done()
    bars.require(2 * max(length, rvi_length) - min(length, rvi_length) // 2 - 1)
    close = bars.frame["close"]
    mode = "r" if is_refined else "t" if is_thirds else ""
    extremes = {"high": bars.frame["high"], "low": bars.frame["low"]} if mode else {}
    modes = {"refined": True} if is_refined else {"thirds": True} if is_thirds else {}
    try:
        volatility = rvi(
            close, length=rvi_length, scalar=scalar, mamode=mamode, **extremes, **modes
        )
    except Exception as error:  # pandas-ta raises many types for settings it cannot use
        raise NotOnFastPath(f"pandas-ta fails here: {error}") from None
    if volatility is None or volatility.isna().all():
        raise NotOnFastPath("pandas-ta returns nothing here")
    source = np.ascontiguousarray(volatility.to_numpy(dtype=np.float64))
    values = linear_regression(source, length, LINE)
    if np.isnan(values).all():
        raise NotOnFastPath("pandas-ta returns nothing here")
    return {f"INERTIA{mode}_{length}_{rvi_length}": shifted(values, offset)}


@kernel
def _fisher_loop(position: FloatArray, length: int) -> FloatArray:  # pragma: no cover
    """pandas_ta/momentum/fisher.py: v = 0.66 position + 0.67 v, clamped to +-0.999, and
    fisher = (ln((1 + v) / (1 - v)) + previous fisher) / 2."""
    out = np.full(position.size, np.nan)
    out[length - 1] = 0.0
    v = 0.0
    for i in range(length, position.size):
        v = 0.66 * position[i] + 0.67 * v
        if v < -0.99:
            v = -0.999
        if v > 0.99:
            v = 0.999
        out[i] = 0.5 * (np.log((1 + v) / (1 - v)) + out[i - 1])
    return out


def fisher(bars: Bars, settings: Settings) -> Columns:
    """Fisher transform of hl2's position in its `length`-bar range, columns FISHERT and
    FISHERTs (the signal: fisher `signal` bars earlier) with `_{length}_{signal}`."""
    length = settings.positive_int("length", 9)
    signal = settings.positive_int("signal", 1)
    offset = settings.offset()
    settings.done()
    bars.require(max(length, signal))
    mid = pd.Series(0.5 * (bars.high + bars.low))
    highest = mid.rolling(length).max().to_numpy()
    lowest = mid.rolling(length).min().to_numpy()
    with np.errstate(invalid="ignore"):
        price_range = non_zero_range(highest, lowest)
        price_range[price_range < 0.001] = 0.001
    position = ((mid.to_numpy() - lowest) / price_range) - 0.5
    values = _fisher_loop(position, length)
    if np.isnan(values).all():
        raise NotOnFastPath("pandas-ta returns nothing here")
    suffix = f"_{length}_{signal}"
    return {
        f"FISHERT{suffix}": shifted(values, offset),
        f"FISHERTs{suffix}": shifted(shifted(values, signal), offset),
    }


@kernel
def _rsx_loop(close: FloatArray, length: int) -> FloatArray:  # pragma: no cover
    """Jurik's RSX as pandas_ta/momentum/rsx.py computes it (its variable names kept)."""
    out = np.full(close.size, np.nan)
    out[length - 1] = 50.0
    v14 = v20 = 0.0
    f0 = f8 = f10 = f18 = f20 = f28 = f30 = f38 = 0.0
    f40 = f48 = f50 = f58 = f60 = f68 = f70 = f78 = 0.0
    f80 = f88 = f90 = 0.0
    for i in range(length, close.size):
        if f90 == 0:
            f90 = 1.0
            f0 = 0.0
            f88 = length - 1.0 if length - 1.0 >= 5 else 5.0
            f8 = 100.0 * close[i]
            f18 = 3.0 / (length + 2.0)
            f20 = 1.0 - f18
        else:
            f90 = f88 + 1 if f88 <= f90 else f90 + 1
            f10 = f8
            f8 = 100 * close[i]
            v8 = f8 - f10
            f28 = f20 * f28 + f18 * v8
            f30 = f18 * f28 + f20 * f30
            v_c = 1.5 * f28 - 0.5 * f30
            f38 = f20 * f38 + f18 * v_c
            f40 = f18 * f38 + f20 * f40
            v10 = 1.5 * f38 - 0.5 * f40
            f48 = f20 * f48 + f18 * v10
            f50 = f18 * f48 + f20 * f50
            v14 = 1.5 * f48 - 0.5 * f50
            f58 = f20 * f58 + f18 * abs(v8)
            f60 = f18 * f58 + f20 * f60
            v18 = 1.5 * f58 - 0.5 * f60
            f68 = f20 * f68 + f18 * v18
            f70 = f18 * f68 + f20 * f70
            v1_c = 1.5 * f68 - 0.5 * f70
            f78 = f20 * f78 + f18 * v1_c
            f80 = f18 * f78 + f20 * f80
            v20 = 1.5 * f78 - 0.5 * f80
            if f88 >= f90 and f8 != f10:
                f0 = 1.0
            if f88 == f90 and f0 == 0.0:
                f90 = 0.0
        if f88 < f90 and v20 > 0.0000000001:
            v4 = (v14 / v20 + 1.0) * 50.0
            v4 = min(max(v4, 0.0), 100.0) if not np.isnan(v4) else v4
        else:
            v4 = 50.0
        out[i] = v4
    return out


def rsx(bars: Bars, settings: Settings) -> Columns:
    """Jurik's relative strength quality index, column RSX_{length}."""
    length = settings.positive_int("length", 14)
    settings.drift()  # accepted and unused, as in pandas-ta
    offset = settings.offset()
    settings.done()
    bars.require(length)
    return {f"RSX_{length}": shifted(_rsx_loop(bars.close, length), offset)}


def cg(bars: Bars, settings: Settings) -> Columns:
    """Ehlers' centre of gravity: -sum(k x close[k]) / sum(close) over the window
    (k = 1 for the oldest bar), column CG_{length}."""
    length = settings.positive_int("length", 10)
    offset = settings.offset()
    settings.done()
    bars.require(length)
    numerator = np.full(bars.size, np.nan)
    coefficients = np.arange(1, length + 1, dtype=np.float64)
    numerator[length - 1 :] = sliding_window_view(bars.close, length) @ coefficients
    values = -numerator / rolling_sum(bars.close, length, length)
    return {f"CG_{length}": shifted(values, offset)}
