"""Pivot points: pandas-ta's own function, given the bars with their UTC index made naive.

pandas-ta's `pivots` is vectorised except its order check (`v_datetime_ordered`), which turns
a time-zone-aware index into one Python Timestamp per bar: about 2 s per 1,000,000 bars of
its 2 s. The same wall-clock times without the zone give the same calendar bins for the
daily (or other) anchor, so the same levels, at the cost of none of those objects.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas_ta.overlap import pivots as pandas_ta_pivots

from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
# pandas-ta annotates its keyword settings as dicts; they are plain names here.
pandas_ta_pivot_levels: Callable[..., pd.DataFrame | None] = pandas_ta_pivots


def _naive_utc(index: pd.Index) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex) or str(index.tz) != "UTC":
        raise NotOnFastPath("pivots here need a UTC DatetimeIndex")
    return index.tz_localize(None)


def pivots(bars: Bars, settings: Settings) -> Columns:
    """Pivot levels of the previous anchor period (a day by default), columns
    PIVOTS_{METH}_{anchor}_P, _S1.., _R1.. as pandas-ta names them."""
    method = settings.value("method")
    anchor = settings.value("anchor")
    settings.done()
    bars.require(3)
    index = _naive_utc(bars.frame.index)
    series = [pd.Series(values, index=index) for values in (bars.open, bars.high, bars.low)]
    close = pd.Series(bars.close, index=index)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            result = pandas_ta_pivot_levels(*series, close, method=method, anchor=anchor)
    except Exception as error:  # pandas-ta raises many types for settings it cannot use
        raise NotOnFastPath(f"pandas-ta fails here: {error}") from None
    if not isinstance(result, pd.DataFrame) or len(result) != bars.size:
        raise NotOnFastPath("pandas-ta returns no levels here")
    return {
        str(column): pd.to_numeric(result[column], errors="coerce").to_numpy(dtype=np.float64)
        for column in result.columns
    }
