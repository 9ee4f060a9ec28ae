"""Which indicator requests the fast path takes: by name, then by every setting.

A request goes to a fast implementation only when its name has one, the bars are finite
float64 OHLCV, and every setting is one the implementation reproduces (see settings.py);
otherwise `compute_fast` returns None and the engine asks pandas-ta, so a user never sees
numbers that depend on the path taken.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
import pandas as pd

from app.engine.fast_indicators.averages import alligator, kama, mcgd, smma
from app.engine.fast_indicators.candles import cdl_pattern, keep_pandas_ta_off_talib
from app.engine.fast_indicators.filters import ebsw, hwc, hwma, jma, vidya
from app.engine.fast_indicators.momentum import cg, cti, fisher, inertia, rsx
from app.engine.fast_indicators.oscillators import aroon, cci, cfo, linreg, mad, sinwma
from app.engine.fast_indicators.pivots import pivots
from app.engine.fast_indicators.schaff import stc
from app.engine.fast_indicators.settings import (
    Bars,
    IndicatorArg,
    NotOnFastPath,
    Settings,
    bars_of,
)
from app.engine.fast_indicators.simple_average import sma
from app.engine.fast_indicators.trailing import hilo, qqe
from app.engine.fast_indicators.trend import adx, dm, psar, supertrend
from app.engine.fast_indicators.volume import vwap
from app.engine.fast_indicators.weighted import fwma, pwma, rvgi, swma
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
FastIndicator = Callable[[Bars, Settings], Columns]

FAST_INDICATORS: Final[Mapping[str, FastIndicator]] = MappingProxyType(
    {
        "adx": adx,
        "alligator": alligator,
        "aroon": aroon,
        "cci": cci,
        "cdl_pattern": cdl_pattern,
        "cfo": cfo,
        "cg": cg,
        "cti": cti,
        "dm": dm,
        "ebsw": ebsw,
        "fisher": fisher,
        "fwma": fwma,
        "hilo": hilo,
        "hwc": hwc,
        "hwma": hwma,
        "inertia": inertia,
        "jma": jma,
        "kama": kama,
        "linreg": linreg,
        "mad": mad,
        "mcgd": mcgd,
        "pivots": pivots,
        "psar": psar,
        "pwma": pwma,
        "qqe": qqe,
        "rsx": rsx,
        "rvgi": rvgi,
        "sinwma": sinwma,
        "sma": sma,
        "smma": smma,
        "stc": stc,
        "supertrend": supertrend,
        "swma": swma,
        "vidya": vidya,
        "vwap": vwap,
    }
)


keep_pandas_ta_off_talib()  # before any indicator is computed: see candles.py


def fast_indicator_names() -> frozenset[str]:
    """The indicator names that have a fast implementation (for some of their settings)."""
    return frozenset(FAST_INDICATORS)


def compute_fast(
    frame: pd.DataFrame, name: str, settings: Mapping[str, IndicatorArg]
) -> Columns | None:
    """The indicator's columns (name -> read-only float64 values, in pandas-ta's column
    order) from the fast path, or None when this request is not covered by it: the caller
    then asks pandas-ta."""
    implementation = FAST_INDICATORS.get(name)
    if implementation is None:
        return None
    try:
        with np.errstate(all="ignore"):
            columns = implementation(bars_of(frame), Settings(settings))
    except NotOnFastPath:
        return None
    for values in columns.values():
        values.setflags(write=False)
    return columns
