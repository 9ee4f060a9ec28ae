"""Candle patterns through TA-Lib, while every other indicator stays on pandas-ta's own code.

pandas-ta switches dozens of indicators (sma, ema, rsi, atr, macd, bbands, ...) to TA-Lib
as soon as `talib` is importable, which changes their numbers. The engine therefore tells
pandas-ta that TA-Lib is absent (`keep_pandas_ta_off_talib`, run when this package is
imported, before any indicator is computed), and computes `cdl_pattern` here the way
pandas-ta's TA-Lib branch does (pandas_ta/candle/cdl_pattern.py): each pattern's TA-Lib
function (values -100, 0, 100) times scalar / 100, column CDL_{NAME}; doji and inside come
from pandas-ta's own code. Without the `ta-lib` package, cdl_pattern falls back to pandas-ta,
which computes only doji and inside.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec

import numpy as np
import pandas as pd
import pandas_ta.maps
from pandas_ta.candle import cdl_doji, cdl_inside
from pandas_ta.candle.cdl_pattern import ALL_PATTERNS

from app.engine.fast_indicators.primitives import shifted
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
PANDAS_TA_PATTERNS: dict[str, Callable[..., pd.Series | None]] = {
    "doji": cdl_doji,
    "inside": cdl_inside,
}


def keep_pandas_ta_off_talib() -> None:
    """Make pandas-ta take its own code path for every indicator, TA-Lib installed or not
    (it reads this flag at each call)."""
    pandas_ta.maps.Imports["talib"] = False


def has_talib() -> bool:
    return find_spec("talib") is not None


def _talib_pattern(bars: Bars, pattern: str) -> FloatArray:
    import talib.abstract

    make: Callable[[str], Callable[..., object]] = talib.abstract.Function  # type: ignore[attr-defined]  # made at import
    function = make(f"CDL{pattern.upper()}")
    frame = bars.frame
    values = function(frame["open"], frame["high"], frame["low"], frame["close"])
    return np.asarray(values, dtype=np.float64)


def cdl_pattern(bars: Bars, settings: Settings) -> Columns:
    """One candle pattern (`name="doji"`), or all 62 (`name="all"`, the default): +-scalar
    where the pattern is found, 0 elsewhere."""
    if not has_talib():
        raise NotOnFastPath("TA-Lib is not installed")
    name = settings.text("name", "all")
    scalar = settings.number("scalar", 100.0)
    offset = settings.offset()
    settings.done()
    bars.require(1)
    patterns = ALL_PATTERNS if name == "all" else [name]
    if not set(patterns) <= set(ALL_PATTERNS):
        raise NotOnFastPath(f"no candle pattern {name!r}")  # pandas-ta says so
    columns: Columns = {}
    frame = bars.frame
    for pattern in patterns:
        if pattern in PANDAS_TA_PATTERNS:
            series = PANDAS_TA_PATTERNS[pattern](
                frame["open"],
                frame["high"],
                frame["low"],
                frame["close"],
                offset=offset,
                scalar=scalar,
            )
            if series is None:
                continue
            columns[str(series.name)] = series.to_numpy(dtype=np.float64)
        else:
            values = 0.01 * scalar * _talib_pattern(bars, pattern)
            columns[f"CDL_{pattern.upper()}"] = shifted(values, offset)
    if not columns:
        raise NotOnFastPath("pandas-ta returns nothing here")
    return columns
