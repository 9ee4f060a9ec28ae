"""Histograms of values that differ only by float rounding get one bin around them."""

from __future__ import annotations

import numpy as np

from app.research.equity_analysis import histogram


def test_values_equal_up_to_rounding_fall_in_one_bin() -> None:
    values = np.array([0.1 + 0.2, 0.3, 0.30000000000000004] * 5)
    bins = histogram(values, bins=40)
    assert bins.counts.sum() == 15
    assert np.count_nonzero(bins.counts) == 1
    assert bins.edges[0] < 0.3 < bins.edges[-1]


def test_distinct_values_span_the_bins() -> None:
    bins = histogram(np.array([1.0, 2.0, np.nan, 3.0]), bins=4)
    assert bins.edges[0] == 1.0 and bins.edges[-1] == 3.0
    assert bins.counts.tolist() == [1, 0, 1, 1]
