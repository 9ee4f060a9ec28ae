"""Monthly and yearly returns: month-end over previous month-end equity, UTC calendar periods."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.api.routes.run_periods import period_returns


def ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def test_each_month_is_its_last_equity_over_the_previous_months_last() -> None:
    times = np.array(
        [
            ns("2024-01-15"),
            ns("2024-01-31 23:00"),
            ns("2024-02-01"),
            ns("2024-02-29 23:00"),
            ns("2024-03-01 00:00"),
        ],
        dtype=np.int64,
    )
    equity = np.array([100.0, 110.0, 99.0, 121.0, 96.8])
    months = period_returns(times, equity, "M")
    # Jan: 110 / 100 - 1 = 0.10 (from the first point); Feb: 121 / 110 - 1 = 0.10;
    # Mar: 96.8 / 121 - 1 = -0.20.
    assert [(y, m) for y, m, _, _ in months] == [(2024, 1), (2024, 2), (2024, 3)]
    np.testing.assert_allclose([r for _, _, r, _ in months], [0.10, 0.10, -0.20])
    assert [p for *_, p in months] == [True, False, True]  # the run starts and ends inside
    (year,) = period_returns(times, equity, "Y")
    assert year[:2] == (2024, None) and abs(year[2] - (96.8 / 100 - 1)) < 1e-12


def test_no_curve_has_no_periods() -> None:
    assert period_returns(np.array([], dtype=np.int64), np.array([]), "M") == []
