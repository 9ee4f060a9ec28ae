"""Indicators that trail a band and flip on a cross, ported from pandas-ta's Python loops:
hilo and qqe. Their vectorised inputs (moving averages, rsi) come from pandas-ta itself."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas_ta.ma import ma as pandas_ta_ma
from pandas_ta.momentum import rsi

from app.engine.fast_indicators.primitives import kernel, shifted
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
# pandas-ta annotates its keyword settings as dicts; they are plain numbers and names here.
ma: Callable[..., pd.Series | None] = pandas_ta_ma


def _series(step: Callable[[], pd.Series | None]) -> pd.Series:
    """The result of one of pandas-ta's own vectorised steps. Where the step fails, returns
    None or only NaN, pandas-ta's indicator fails or returns nothing: leave it to pandas-ta."""
    try:
        series = step()
    except Exception as error:  # pandas-ta raises many types for settings it cannot use
        raise NotOnFastPath(f"pandas-ta fails here: {error}") from None
    if series is None or series.isna().all():
        raise NotOnFastPath("pandas-ta returns nothing here")
    return series


def _values(step: Callable[[], pd.Series | None]) -> FloatArray:
    return np.ascontiguousarray(_series(step).to_numpy(dtype=np.float64))


@kernel
def _hilo_loop(
    close: FloatArray, high_ma: FloatArray, low_ma: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:  # pragma: no cover
    """pandas_ta/overlap/hilo.py: above the previous high average -> the low average
    (long), below the previous low average -> the high average (short), else hold."""
    m = close.size
    hilo = np.full(m, np.nan)
    long = np.full(m, np.nan)
    short = np.full(m, np.nan)
    for i in range(1, m):
        if close[i] > high_ma[i - 1]:
            hilo[i] = low_ma[i]
            long[i] = low_ma[i]
        elif close[i] < low_ma[i - 1]:
            hilo[i] = high_ma[i]
            short[i] = high_ma[i]
        else:
            hilo[i] = hilo[i - 1]
            long[i] = hilo[i - 1]
            short[i] = hilo[i - 1]
    return hilo, long, short


def hilo(bars: Bars, settings: Settings) -> Columns:
    """Gann HiLo activator, columns HILO, HILOl, HILOs with `_{high_length}_{low_length}`."""
    high_length = settings.positive_int("high_length", 13)
    low_length = settings.positive_int("low_length", 21)
    mamode = settings.text("mamode", "sma")
    offset = settings.offset()
    settings.done()
    bars.require(max(high_length, low_length) + 1)
    high_ma = _values(lambda: ma(mamode, bars.frame["high"], length=high_length))
    low_ma = _values(lambda: ma(mamode, bars.frame["low"], length=low_length))
    values = _hilo_loop(bars.close, high_ma, low_ma)
    suffix = f"_{high_length}_{low_length}"
    names = (f"HILO{suffix}", f"HILOl{suffix}", f"HILOs{suffix}")
    return {name: shifted(v, offset) for name, v in zip(names, values, strict=True)}


@kernel
def _nan_max(a: float, b: float) -> float:  # pragma: no cover
    """numpy.maximum of two numbers: NaN if either is NaN."""
    if np.isnan(a) or np.isnan(b):
        return np.nan
    return max(a, b)


@kernel
def _nan_min(a: float, b: float) -> float:  # pragma: no cover
    if np.isnan(a) or np.isnan(b):
        return np.nan
    return min(a, b)


@kernel
def _qqe_loop(
    rsi_ma: FloatArray, lower: FloatArray, upper: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:  # pragma: no cover
    """pandas_ta/momentum/qqe.py's loop, indices included: at bar 1 its `x.iat[i - 2]`
    reads the last bar, still at its initial 0."""
    m = rsi_ma.size
    long = np.zeros(m)
    short = np.zeros(m)
    trend = np.ones(m)
    qqe = np.full(m, rsi_ma[0])
    qqe_long = np.full(m, np.nan)
    qqe_short = np.full(m, np.nan)
    for i in range(1, m):
        c_rsi, p_rsi = rsi_ma[i], rsi_ma[i - 1]
        c_long, p_long = long[i - 1], long[i - 2]
        c_short, p_short = short[i - 1], short[i - 2]
        if p_rsi > c_long and c_rsi > c_long:
            long[i] = _nan_max(c_long, lower[i])
        else:
            long[i] = lower[i]
        if p_rsi < c_short and c_rsi < c_short:
            short[i] = _nan_min(c_short, upper[i])
        else:
            short[i] = upper[i]
        if (c_rsi > c_short and p_rsi < p_short) or (c_rsi <= c_short and p_rsi >= p_short):
            trend[i] = 1
            qqe[i] = qqe_long[i] = long[i]
        elif (c_rsi > c_long and p_rsi < p_long) or (c_rsi <= c_long and p_rsi >= p_long):
            trend[i] = -1
            qqe[i] = qqe_short[i] = short[i]
        else:
            trend[i] = trend[i - 1]
            if trend[i] == 1:
                qqe[i] = qqe_long[i] = long[i]
            else:
                qqe[i] = qqe_short[i] = short[i]
    return qqe, qqe_long, qqe_short, long, short


def qqe(bars: Bars, settings: Settings) -> Columns:
    """Quantitative qualitative estimation: a smoothed rsi with trailing bands. Columns
    QQE, QQE..._RSIMA, QQEl, QQEs with `{mode}_{length}_{smooth}_{factor}`. As in pandas-ta,
    `offset` shifts QQE and the RSI MA but not QQEl/QQEs."""
    length = settings.positive_int("length", 14)
    smooth = settings.positive_int("smooth", 5)
    factor = settings.number("factor", 4.236)
    mamode = settings.text("mamode", "ema")
    drift = settings.drift()
    offset = settings.offset()
    settings.done()
    wilders_length = 2 * length - 1
    bars.require(wilders_length + smooth)
    # pandas-ta's own vectorised steps, each checked as pandas-ta checks it
    rsi_series = _series(lambda: rsi(bars.frame["close"], length))
    rsi_ma_series = _series(lambda: ma(mamode, rsi_series, length=smooth))
    rsi_ma_tr = _series(lambda: rsi_ma_series.diff(drift).abs())
    smoothed = _series(lambda: ma("ema", rsi_ma_tr, length=wilders_length))
    dar = factor * _values(lambda: ma("ema", smoothed, length=wilders_length))
    rsi_ma = np.ascontiguousarray(rsi_ma_series.to_numpy(dtype=np.float64))
    quality, quality_long, quality_short, _, _ = _qqe_loop(rsi_ma, rsi_ma - dar, rsi_ma + dar)
    mode = mamode.lower()[0] if mamode != "ema" else ""
    suffix = f"{mode}_{length}_{smooth}_{factor}"
    return {
        f"QQE{suffix}": shifted(quality, offset),
        f"QQE{suffix}_RSI{mode.upper()}MA": shifted(rsi_ma, offset),
        f"QQEl{suffix}": quality_long,
        f"QQEs{suffix}": quality_short,
    }
