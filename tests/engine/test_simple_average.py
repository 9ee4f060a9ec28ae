"""The numpy sma (app/engine/fast_indicators/simple_average.py) gives pandas-ta's own bits:
every value, every NaN, the column name, on the fast-indicator tests' random series. That it
starts no numba is tests/sandbox/test_worker.py's warm-up test."""

from __future__ import annotations

import numpy as np
import pytest
from pandas_ta.overlap.sma import nb_sma

from app.engine.fast_indicators import compute_fast
from app.engine.fast_indicators.simple_average import in_order_means, simple_moving_average
from app.engine.feed import FloatArray
from tests.engine.test_fast_indicators import SERIES, Settings, pandas_ta_output

LENGTHS = (2, 3, 5, 9, 10, 15, 16, 17, 30, 31, 64, 200, 399, 400)
EXTRAS: tuple[Settings, ...] = ({}, {"offset": 3}, {"min_periods": 50}, {"talib": False})


def kernel_sums_in_order() -> bool:
    """Whether pandas-ta's compiled nb_sma is numba's in-order inner product for every length
    the test uses (the kernel was compiled without SciPy's BLAS). With SciPy importable when
    numba compiled it (a fresh `scripts/setup`), numba calls BLAS `ddot`, whose order depends
    on the length and the CPU: the bits then are the CPU's, and only the 1e-9 comparison of
    tests/engine/test_fast_indicators.py applies."""
    values = np.random.default_rng(11).normal(100.0, 30.0, 2 * max(LENGTHS))
    for length in LENGTHS:
        expected = 0.0
        for value in values[1 : 1 + length]:  # the second full window (not the one-window case)
            expected = expected + value * (1.0 / length)
        if nb_sma(values[: length + 1], length)[length] != expected:
            return False
    return True


def bit_equal(ours: FloatArray, theirs: FloatArray) -> bool:
    same_values = np.array_equal(ours, theirs, equal_nan=True)
    return same_values and np.array_equal(np.signbit(ours), np.signbit(theirs))


@pytest.mark.skipif(
    not kernel_sums_in_order(),
    reason="pandas-ta's sma kernel was compiled with a BLAS ddot: its bits are the CPU's",
)
@pytest.mark.parametrize("series", list(SERIES))
def test_sma_equals_pandas_ta_bit_for_bit(series: str) -> None:
    frame = SERIES[series]()
    for length in LENGTHS:
        for extra in EXTRAS:
            settings: Settings = {"length": length, **extra}
            theirs = pandas_ta_output(frame, "sma", settings)
            ours = compute_fast(frame, "sma", settings)
            if isinstance(theirs, str):  # too few bars: pandas-ta answers, with its own words
                assert ours is None, (settings, theirs)
                continue
            assert ours is not None, settings
            assert list(ours) == list(theirs) == [f"SMA_{length}"]
            assert bit_equal(ours[f"SMA_{length}"], theirs[f"SMA_{length}"]), settings


def test_sma_is_the_in_order_sum_whatever_the_kernel() -> None:
    # The definition, in Python floats: 0, plus each value times 1/n, first to last; a
    # series exactly one window long is summed from its last value (numpy's argument swap).
    values = np.random.default_rng(5).normal(50.0, 20.0, 40)
    n = 7
    expected = []
    for start in range(values.size - n + 1):
        total = 0.0
        for value in values[start : start + n]:
            total = total + value * (1.0 / n)
        expected.append(total)
    assert in_order_means(values, n).tolist() == expected
    backwards = 0.0
    for value in values[:n][::-1]:
        backwards = backwards + value * (1.0 / n)
    assert in_order_means(values[:n], n).tolist() == [backwards]
    out = simple_moving_average(values, n)
    assert np.isnan(out[: n - 1]).all() and out[n - 1 :].tolist() == expected


@pytest.mark.parametrize(
    "settings",
    [{"length": 1}, {"length": 2.0}, {"length": 0}, {"min_periods": 0}, {"fillna": 0}],
)
def test_sma_settings_it_does_not_reproduce_go_to_pandas_ta(settings: Settings) -> None:
    assert compute_fast(SERIES["random walk"](), "sma", settings) is None
