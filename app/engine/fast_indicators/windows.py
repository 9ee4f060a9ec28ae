"""Per-window statistics pandas-ta computes with `rolling(...).apply(f, raw=True)` or a
Python loop over sliding windows, as numba kernels doing the same numpy arithmetic per
window (`numpy_sum` reproduces numpy's pairwise order)."""

from __future__ import annotations

import numpy as np

from app.engine.fast_indicators.primitives import kernel, numpy_sum
from app.engine.feed import FloatArray

# Which line `linear_regression` returns (pandas_ta/overlap/linreg.py, first flag wins).
LINE, SLOPE, INTERCEPT, ANGLE, ANGLE_DEGREES, CORRELATION, FORECAST = range(7)
EPSILON = float(np.finfo(np.float64).eps)


@kernel
def mean_absolute_deviation(values: FloatArray, length: int) -> FloatArray:  # pragma: no cover
    """mean(|x - mean(x)|) over each window of `length` (pandas_ta/statistics/mad.py)."""
    out = np.full(values.size, np.nan)
    deviations = np.empty(length)
    for end in range(length, values.size + 1):
        window = values[end - length : end]
        mean = numpy_sum(window) / length
        for k in range(length):
            deviations[k] = abs(window[k] - mean)
        out[end - 1] = numpy_sum(deviations) / length
    return out


@kernel
def bars_since_extreme(
    values: FloatArray, window: int, highest: bool
) -> FloatArray:  # pragma: no cover
    """Bars back to the most recent maximum (or minimum) in each window of `window` bars:
    `argmax(x[::-1])`, so the latest of equal extremes counts."""
    out = np.full(values.size, np.nan)
    for end in range(window, values.size + 1):
        best = values[end - 1]
        back = 0
        for k in range(1, window):
            value = values[end - 1 - k]
            if (value > best) if highest else (value < best):
                best = value
                back = k
        out[end - 1] = back
    return out


@kernel
def linear_regression(values: FloatArray, length: int, line: int) -> FloatArray:  # pragma: no cover
    """pandas-ta's least-squares line over each window of `length`, x = 1..length:
    its end value (LINE), slope, intercept, angle, correlation r, or next value (FORECAST)."""
    out = np.full(values.size, np.nan)
    x = np.arange(1, length + 1).astype(np.float64)
    x_sum = 0.5 * length * (length + 1)
    x2_sum = x_sum * (2 * length + 1) / 3
    divisor = length * x2_sum - x_sum * x_sum
    products = np.empty(length)
    for end in range(length, values.size + 1):
        window = values[end - length : end]
        y_sum = numpy_sum(window)
        for k in range(length):
            products[k] = x[k] * window[k]
        xy_sum = numpy_sum(products)
        m = (length * xy_sum - x_sum * y_sum) / divisor
        if line == SLOPE:
            out[end - 1] = m
            continue
        b = (y_sum * x2_sum - x_sum * xy_sum) / divisor
        if line == INTERCEPT:
            out[end - 1] = b
        elif line == ANGLE:
            out[end - 1] = np.arctan(m)
        elif line == ANGLE_DEGREES:
            out[end - 1] = np.arctan(m) * (180 / np.pi)
        elif line == CORRELATION:
            for k in range(length):
                products[k] = window[k] * window[k]
            y2_sum = numpy_sum(products)
            rn = length * xy_sum - x_sum * y_sum
            rd = (divisor * (length * y2_sum - y_sum * y_sum)) ** 0.5
            if abs(rd) < EPSILON:
                rd = EPSILON
            out[end - 1] = rn / rd
        elif line == FORECAST:
            out[end - 1] = m * (length - 1) + b
        else:
            out[end - 1] = m * length + b
    return out
