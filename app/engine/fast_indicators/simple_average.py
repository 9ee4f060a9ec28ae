"""pandas-ta's simple moving average with numpy alone, bit for bit: no numba kernel to load.

pandas-ta computes `sma` (with TA-Lib off, as the engine keeps it: candles.py) through its
numba kernel `nb_sma`: `convolve(ones(n) / n, x)` keeps the full windows, each the in-order
sum `((0 + w x[i]) + w x[i+1]) + ...` with w = 1 / n, through numba's plain inner product
(numba/np/new_arraymath.py, `_np_correlate_core`; when the series is exactly one window long,
numpy's argument swap sums that window from its last value back). Loading any numba kernel
starts numba's compiler first (~0.7 s of CPU once per process: `numba.core.base.refresh`
imports some 200 modules); a sandbox worker whose strategy asks only for averages like these
never pays it. The products and sums are numpy's correctly rounded float64 operations in the
same order, so the bits are the kernel's on any machine; tests/engine/test_simple_average.py
compares them with pandas-ta's own output.

One caveat about the reference: numba uses a BLAS `ddot` for that inner product instead when
SciPy is importable as it compiles the kernel, and BLAS sums in its own order (per CPU).
The kernel pandas-ta ships is compiled on the machine (`strategylab warm-indicators`), so
its last bits depend on whether SciPy was installed at that moment; this version does not.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from app.engine.fast_indicators.primitives import shifted
from app.engine.fast_indicators.settings import Bars, NotOnFastPath, Settings
from app.engine.feed import FloatArray

Columns = dict[str, FloatArray]
CHUNK_WINDOWS: Final = 16_384
"""Windows summed together, one product at a time: the partial sums stay in the cache."""


def in_order_means(values: FloatArray, length: int) -> FloatArray:
    """The mean of every full window of `length` values as nb_sma sums it: 0, plus each
    value times 1 / length, first to last (NaN wherever a window holds a NaN)."""
    weight = 1.0 / length  # each of numpy's `ones(n) / n`, as the kernel builds them
    windows = values.size - length + 1
    if windows == 1:  # one window: numpy's convolve swaps its arguments and sums it backwards
        values = values[::-1].copy()
    sums = np.empty(windows)
    product = np.empty(min(CHUNK_WINDOWS, windows))
    for start in range(0, windows, CHUNK_WINDOWS):
        stop = min(start + CHUNK_WINDOWS, windows)
        partial = sums[start:stop]
        partial.fill(0.0)
        term = product[: stop - start]
        for offset in range(length):
            np.multiply(values[start + offset : stop + offset], weight, out=term)
            partial += term
    return sums


def simple_moving_average(values: FloatArray, length: int) -> FloatArray:
    """nb_sma(values, length): NaN for the first length - 1 bars, then in_order_means."""
    out = np.full(values.size, np.nan)
    out[length - 1 :] = in_order_means(values, length)
    return out


def sma(bars: Bars, settings: Settings) -> Columns:
    """Simple moving average of the close, column SMA_{length} (pandas_ta/overlap/sma.py)."""
    length = settings.positive_int("length", 10)
    min_periods = settings.positive_int("min_periods", length)  # only pandas-ta's bar minimum
    settings.flag("talib", True)  # TA-Lib is kept off: the kernel's path either way
    offset = settings.offset()
    settings.done()
    if length < 2:  # nb_sma returns no values for length 1, and pandas-ta's sma then raises
        raise NotOnFastPath("sma of length 1")
    bars.require(max(length, min_periods))
    return {f"SMA_{length}": shifted(simple_moving_average(bars.close, length), offset)}
