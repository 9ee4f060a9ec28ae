"""The Schaff trend cycle (stc), ported from pandas-ta's loop.

pandas_ta/momentum/stc.py rounds each smoothing step with `round(value, 8)`; its values are
numpy floats, so that is numpy's rounding (scale by 10^8, round half to even, unscale), not
CPython's correctly rounded one: `round8` does the same three operations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pandas_ta.overlap import ema as pandas_ta_ema

from app.engine.fast_indicators.primitives import kernel, shifted
from app.engine.fast_indicators.ranges import non_zero_range
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
# pandas-ta annotates its keyword settings as dicts; they are plain numbers here.
ema: Callable[..., pd.Series | None] = pandas_ta_ema


@kernel
def round8(x: float) -> float:  # pragma: no cover
    """`numpy.float64(x).__round__(8)`: rint(x * 1e8) / 1e8."""
    return float(np.rint(x * 1e8) / 1e8)


@kernel
def _schaff_loop(
    seed: FloatArray, lowest: FloatArray, seed_range: FloatArray, tc_length: int, factor: float
) -> tuple[FloatArray, FloatArray]:  # pragma: no cover
    """pandas-ta's `schaff_tc`: a stochastic of the MACD, smoothed, then a stochastic of that,
    smoothed again; each smoothing rounded to 8 decimals. (pandas-ta tests `lowest > 0`
    where the range is meant; kept.)"""
    m = seed.size
    stoch1 = np.zeros(m)
    pf = np.zeros(m)
    stoch2 = np.zeros(m)
    pff = np.zeros(m)
    for i in range(1, m):
        if lowest[i] > 0:
            stoch1[i] = 100 * ((seed[i] - lowest[i]) / seed_range[i])
        else:
            stoch1[i] = stoch1[i - 1]
        step = pf[i - 1] + (factor * (stoch1[i] - pf[i - 1]))
        pf[i] = round8(step)
        start = max(0, i - tc_length + 1)
        lowest_pf = pf[start]
        highest_pf = pf[start]
        for k in range(start + 1, i + 1):
            lowest_pf = min(lowest_pf, pf[k])
            highest_pf = max(highest_pf, pf[k])
        pf_range = highest_pf - lowest_pf if highest_pf - lowest_pf > 0 else 1.0
        stoch2[i] = 100 * ((pf[i] - lowest_pf) / pf_range)
        step = pff[i - 1] + (factor * (stoch2[i] - pff[i - 1]))
        pff[i] = round8(step)
    return pff, pf


def stc(bars: Bars, settings: Settings) -> Columns:
    """Schaff trend cycle with its MACD and stochastic, columns STC, STCmacd, STCstoch with
    `_{tc_length}_{fast}_{slow}_{factor}` (fast and slow swapped when slow < fast)."""
    tc_length = settings.positive_int("tc_length", 10)
    fast = settings.positive_int("fast", 12)
    slow = settings.positive_int("slow", 26)
    factor = settings.positive_number("factor", 0.5)
    offset = settings.offset()
    settings.done()
    if slow < fast:
        fast, slow = slow, fast
    length = max(tc_length, fast, slow)
    bars.require(length)
    close = bars.frame["close"]
    fast_ma, slow_ma = ema(close, length=fast), ema(close, length=slow)
    if fast_ma is None or slow_ma is None:
        raise NotOnFastPath("pandas-ta returns nothing here")
    seed = np.ascontiguousarray((fast_ma - slow_ma).to_numpy(dtype=np.float64))
    windows = pd.Series(seed).rolling(tc_length)
    lowest = windows.min().to_numpy()
    with np.errstate(invalid="ignore"):
        seed_range = non_zero_range(windows.max().to_numpy(), lowest)
    schaff, stochastic = _schaff_loop(seed, lowest, seed_range, tc_length, float(factor))
    schaff[: length - 1] = np.nan
    stochastic[: length - 1] = np.nan
    suffix = f"_{tc_length}_{fast}_{slow}_{factor}"
    return {
        f"STC{suffix}": shifted(schaff, offset),
        f"STCmacd{suffix}": shifted(seed, offset),
        f"STCstoch{suffix}": shifted(stochastic, offset),
    }
