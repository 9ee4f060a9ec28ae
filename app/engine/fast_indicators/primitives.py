"""pandas' and numpy's own arithmetic (ewm, rolling sum, grouped cumsum, array sum) as numba
kernels, operation for operation, so fast indicators built on them match pandas-ta bit for bit.

Each kernel follows the Cython loop pandas runs (pandas/_libs/window/aggregations.pyx and
pandas/_libs/groupby.pyx): the same Kahan compensation, the same guards for constant windows
and for sign, the same order of additions. numba compiles them once (`cache=True`; filled at
setup by `strategylab warm-indicators`), with fastmath off so IEEE order is kept.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import numba
import numpy as np
import numpy.typing as npt

from app.engine.feed import FloatArray

NAN = np.nan
BoolArray = npt.NDArray[np.bool_]


def kernel[Function: Callable[..., Any]](function: Function) -> Function:
    """Compile `function` with numba once and cache it beside the module (`cache=True`;
    `strategylab warm-indicators` fills the cache at setup, sandboxed runs only read it).
    Division follows numpy (x / 0 is inf or NaN, as in pandas-ta), not Python's error."""
    return cast(Function, numba.njit(cache=True, error_model="numpy")(function))


@kernel
def ewm_mean(values: FloatArray, alpha: float, adjust: bool) -> FloatArray:  # pragma: no cover
    """`Series.ewm(alpha=alpha, adjust=adjust).mean()` (ignore_na=False, min_periods=0):
    pandas turns alpha into a centre of mass and back, then runs this loop."""
    com = (1.0 - alpha) / alpha
    alpha = 1.0 / (1.0 + com)
    old_wt_factor = 1.0 - alpha
    new_wt = 1.0 if adjust else alpha
    n = values.size
    out = np.empty(n)
    if n == 0:
        return out
    weighted = values[0]
    nobs = 0 if np.isnan(weighted) else 1
    out[0] = weighted if nobs >= 1 else NAN
    old_wt = 1.0
    for i in range(1, n):
        cur = values[i]
        is_observation = not np.isnan(cur)
        if is_observation:
            nobs += 1
        if not np.isnan(weighted):
            old_wt *= old_wt_factor
            if is_observation:
                if weighted != cur:  # pandas: avoids numerical errors on constant series
                    weighted = old_wt * weighted + new_wt * cur
                    weighted /= old_wt + new_wt
                if adjust:
                    old_wt += new_wt
                else:
                    old_wt = 1.0
        elif is_observation:
            weighted = cur
        out[i] = weighted if nobs >= 1 else NAN
    return out


@kernel
def grouped_cumsum(values: FloatArray, group_starts: BoolArray) -> FloatArray:  # pragma: no cover
    """`Series.groupby(labels).cumsum()` for labels that form contiguous runs (each run
    starts where `group_starts` is True): pandas' group_cumsum with its Kahan sum."""
    n = values.size
    out = np.empty(n)
    accum = 0.0
    compensation = 0.0
    for i in range(n):
        if group_starts[i]:
            accum = 0.0
            compensation = 0.0
        val = values[i]
        if np.isnan(val):
            out[i] = NAN
            continue
        y = val - compensation
        t = accum + y
        compensation = t - accum - y
        accum = t
        out[i] = t
    return out


def shifted(values: FloatArray, periods: int) -> FloatArray:
    """`Series.shift(periods)` for periods >= 0: later by `periods` bars, NaN in front."""
    if periods == 0:
        return values
    out = np.full(values.size, NAN)
    if periods < values.size:
        out[periods:] = values[: values.size - periods]
    return out


@kernel
def rolling_sum(
    values: FloatArray, window: int, min_periods: int
) -> FloatArray:  # pragma: no cover
    """`Series.rolling(window, min_periods).sum()`: pandas' roll_sum (Kahan sums, and a
    constant window's sum taken as value x count)."""
    n = values.size
    out = np.empty(n)
    nobs = 0
    sum_x = 0.0
    comp_add = 0.0
    comp_remove = 0.0
    same_run = 0
    prev_value = NAN
    for i in range(n):
        start = max(0, i - window + 1)
        if i == 0 or start >= i:
            nobs = 0
            sum_x = 0.0
            comp_add = 0.0
            comp_remove = 0.0
            same_run = 0
            prev_value = values[start]
            for j in range(start, i + 1):
                val = values[j]
                if not np.isnan(val):
                    nobs += 1
                    y = val - comp_add
                    t = sum_x + y
                    comp_add = t - sum_x - y
                    sum_x = t
                    if val == prev_value:
                        same_run += 1
                    else:
                        same_run = 1
                    prev_value = val
        else:
            for j in range(max(0, i - window), start):
                val = values[j]
                if not np.isnan(val):
                    nobs -= 1
                    y = -val - comp_remove
                    t = sum_x + y
                    comp_remove = t - sum_x - y
                    sum_x = t
            val = values[i]
            if not np.isnan(val):
                nobs += 1
                y = val - comp_add
                t = sum_x + y
                comp_add = t - sum_x - y
                sum_x = t
                if val == prev_value:
                    same_run += 1
                else:
                    same_run = 1
                prev_value = val
        if nobs == 0 == min_periods:
            out[i] = 0.0
        elif nobs >= min_periods and nobs > 0:
            out[i] = prev_value * nobs if same_run >= nobs else sum_x
        else:
            out[i] = NAN
    return out


@kernel
def _block_sum(values: FloatArray, start: int, n: int) -> float:  # pragma: no cover
    """numpy's pairwise_sum leaf (n <= 128): a plain loop under 8 items, else 8 accumulators
    combined as ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)), then the rest."""
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += values[i]
        return res
    r = values[start : start + 8].copy()
    i = 8
    while i < n - (n % 8):
        for k in range(8):
            r[k] += values[start + i + k]
        i += 8
    res = float(((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7])))
    while i < n:
        res += values[start + i]
        i += 1
    return res


@kernel
def _pairwise(values: FloatArray, start: int, n: int) -> float:  # pragma: no cover
    """numpy's recursive halving (halves rounded down to a multiple of 8), walked with an
    explicit stack: numba cannot cache a recursive function."""
    starts = np.empty(64, dtype=np.int64)
    sizes = np.empty(64, dtype=np.int64)
    halves = np.empty(64, dtype=np.int64)
    lefts = np.empty(64)
    stages = np.zeros(64, dtype=np.int64)  # 0: new, 1: left pending, 2: right pending
    top = 0
    starts[0], sizes[0], stages[0] = start, n, 0
    value = 0.0
    has_value = False
    while True:
        if has_value:
            if top < 0:
                return value
            if stages[top] == 1:
                lefts[top] = value
                stages[top] = 2
                has_value = False
                child = top + 1
                starts[child] = starts[top] + halves[top]
                sizes[child] = sizes[top] - halves[top]
                stages[child] = 0
                top = child
            else:
                value = lefts[top] + value
                top -= 1
            continue
        if sizes[top] <= 128:
            value = _block_sum(values, starts[top], sizes[top])
            has_value = True
            top -= 1
            continue
        half = sizes[top] // 2
        half -= half % 8
        halves[top] = half
        stages[top] = 1
        child = top + 1
        starts[child], sizes[child], stages[child] = starts[top], half, 0
        top = child


@kernel
def numpy_sum(values: FloatArray) -> float:  # pragma: no cover
    """`ndarray.sum()` of a contiguous float64 array (at most 8,192 items, numpy's buffer):
    numpy's pairwise sum, in numpy's order (8 accumulators per block of up to 128)."""
    if values.size <= 128:  # one leaf: no stack to walk
        return _block_sum(values, 0, values.size)
    return _pairwise(values, 0, values.size)
