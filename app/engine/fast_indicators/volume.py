"""Volume-weighted indicators: vwap, anchored to calendar periods of the bars' time index."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from app.engine.fast_indicators.primitives import BoolArray, grouped_cumsum, shifted
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]


def _period_starts(index: pd.Index, anchor: str) -> BoolArray:
    """True on the first bar of each `anchor` period (pandas' `to_period`, as pandas-ta
    groups by); the bars must be in time order so each period is one contiguous run."""
    if not isinstance(index, pd.DatetimeIndex) or not index.is_monotonic_increasing:
        raise NotOnFastPath("vwap needs an ordered DatetimeIndex")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # to_period drops the time zone, as in pandas-ta
            ordinals = index.to_period(anchor).asi8
    except Exception as error:  # pandas-ta raises its own error for a bad anchor
        raise NotOnFastPath(f"anchor {anchor!r}: {error}") from None
    starts = np.empty(ordinals.size, dtype=np.bool_)
    starts[0] = True
    starts[1:] = ordinals[1:] != ordinals[:-1]
    return starts


def vwap(bars: Bars, settings: Settings) -> Columns:
    """Volume-weighted average price of hlc3, restarted each anchor period (column
    VWAP_{anchor}, the anchor upper-cased; default "D")."""
    anchor = settings.text("anchor", "D").upper()
    offset = settings.offset()
    settings.done()
    bars.require(2)
    index = bars.frame.index
    if not isinstance(index, pd.DatetimeIndex) or not index[0] < index[-1]:
        raise NotOnFastPath("vwap needs an ordered DatetimeIndex")
    starts = _period_starts(index, anchor)
    typical = (bars.high + bars.low + bars.close) / 3.0
    with np.errstate(divide="ignore", invalid="ignore"):
        values = grouped_cumsum(typical * bars.volume, starts) / grouped_cumsum(bars.volume, starts)
    return {f"VWAP_{anchor}": shifted(values, offset)}
