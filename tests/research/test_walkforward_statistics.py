"""Walk-forward efficiency, parameter stability and the t-test of the mean daily return,
on worked examples with the arithmetic in comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import ParamValue
from app.research.walkforward_statistics import (
    WindowReturn,
    annualised_return,
    compounded_annual_return,
    efficiency,
    mean_return_t_test,
    parameter_stability,
)

YEAR = 365.25


def test_efficiency_worked_example_per_fold_and_overall() -> None:
    # Fold 1: in-sample +10 % over 73.05 days (a fifth of a year): 1.1^5 - 1 = 0.61051 a year;
    # out of sample +2 % over 36.525 days (a tenth): 1.02^10 - 1 = 0.2189944 a year.
    # Efficiency = 0.2189944 / 0.61051 = 0.3587073.
    is_1 = annualised_return(0.10, YEAR / 5)
    oos_1 = annualised_return(0.02, YEAR / 10)
    assert is_1 == pytest.approx(0.61051, rel=1e-12)
    assert oos_1 == pytest.approx(0.21899441999, rel=1e-10)
    assert efficiency(oos_1, is_1) == pytest.approx(0.3587073430, rel=1e-9)
    # Fold 2: in-sample +21 %, out of sample -1 %, same lengths.
    # Overall in-sample: 1.10 x 1.21 = 1.331 over 0.4 years: 1.331^2.5 - 1 = 1.0438317.
    # Overall out of sample: 1.02 x 0.99 = 1.0098 over 0.2 years: 1.0098^5 - 1 = 0.0499699.
    # Overall efficiency = 0.0499699 / 1.0438317 = 0.0478716.
    overall_is = compounded_annual_return(
        [WindowReturn(0.10, YEAR / 5), WindowReturn(0.21, YEAR / 5)]
    )
    overall_oos = compounded_annual_return(
        [WindowReturn(0.02, YEAR / 10), WindowReturn(-0.01, YEAR / 10)]
    )
    assert overall_is == pytest.approx(1.043831737, rel=1e-9)
    assert overall_oos == pytest.approx(0.049969858, rel=1e-8)
    assert efficiency(overall_oos, overall_is) == pytest.approx(0.047871564, rel=1e-8)


@pytest.mark.parametrize(
    ("oos", "is_"),
    [(0.1, 0.0), (0.1, -0.2), (None, 0.3), (0.1, None)],
)
def test_efficiency_undefined_without_a_positive_in_sample_return(
    oos: float | None, is_: float | None
) -> None:
    assert efficiency(oos, is_) is None


def test_annualised_return_edges() -> None:
    assert annualised_return(-1.0, 30) is None  # the account is gone
    assert annualised_return(0.1, 0) is None
    assert annualised_return(None, 30) is None
    assert annualised_return(1e6, 0.001) is None  # overflows a float: undefined, not inf
    assert compounded_annual_return([]) is None


def test_t_test_worked_example() -> None:
    # returns 0.01, 0.03, -0.01, 0.05: mean 0.02, sample std sqrt(0.002 / 3) = 0.0258199,
    # t = 0.02 / (0.0258199 / 2) = 1.5491933; p two-sided with 3 df = 0.21910.
    test = mean_return_t_test(np.array([0.01, 0.03, -0.01, 0.05]))
    assert test.days == 4
    assert test.mean == pytest.approx(0.02)
    assert test.std == pytest.approx(math.sqrt(0.002 / 3))
    assert test.t_stat == pytest.approx(1.5491933, rel=1e-7)
    assert test.p_value == pytest.approx(0.21910, abs=1e-5)


def test_t_test_undefined_cases() -> None:
    assert mean_return_t_test(np.array([0.01])).t_stat is None
    assert mean_return_t_test(np.empty(0)).mean is None
    flat = mean_return_t_test(np.zeros(5))
    assert flat.t_stat is None
    assert flat.p_value is None


def test_parameter_stability() -> None:
    chosen: list[dict[str, ParamValue]] = [
        {"fast": 10, "slow": 40, "mode": "a"},
        {"fast": 10, "slow": 60, "mode": "b"},
        {"fast": 20, "slow": 40, "mode": "a"},
        {"fast": 10, "slow": 40, "mode": "a"},
    ]
    figures = parameter_stability(chosen, {"fast": (5.0, 25.0), "slow": (20.0, 100.0)})
    fast = figures["fast"]
    # fast: 10, 10, 20, 10: mean 12.5, sample std 5, cv 0.4; range 10 of 20 searched.
    assert fast["values"] == [10, 10, 20, 10]
    assert fast["distinct"] == 2
    assert fast["most_common"] == 10
    assert fast["most_common_share"] == 0.75
    assert fast["changes"] == 2
    assert fast["mean"] == 12.5
    assert fast["std"] == pytest.approx(5.0)
    assert fast["cv"] == pytest.approx(0.4)
    assert (fast["min"], fast["max"]) == (10, 20)
    assert fast["range_share"] == pytest.approx(0.5)
    # slow: range 20 of 80 searched.
    assert figures["slow"]["range_share"] == pytest.approx(0.25)
    mode = figures["mode"]
    assert mode["distinct"] == 2
    assert mode["most_common"] == "a"
    assert "cv" not in mode


def test_parameter_stability_single_fold_and_ties() -> None:
    one = parameter_stability([{"fast": 10}])["fast"]
    assert one["std"] is None
    assert one["cv"] is None
    assert one["changes"] == 0
    tie = parameter_stability([{"m": "x"}, {"m": "y"}])["m"]
    assert tie["most_common"] == "x"  # a tie goes to the earliest fold's value
