"""Walk-forward figures over fold results: efficiency, parameter stability and the
t-statistic of the mean daily out-of-sample return. Pure: numbers in, numbers out.

Conventions (docs/research.md, "Walk-forward"):

- Annualised return over a window of `days` calendar days with total return R is
  `(1 + R) ^ (365.25 / days) - 1`, the engine's CAGR (app/engine/metrics.py); a window's days
  run from its first traded bar's open to its last bar's open plus one bar, as the engine counts.
- Walk-forward efficiency (Pardo, "The Evaluation and Optimization of Trading Strategies",
  2nd ed., ch. 11) = annualised out-of-sample return / annualised in-sample return. Per fold:
  the test run's CAGR over the chosen trial's train CAGR. Overall: both sides compounded over
  the tested folds and annualised over the days they cover, `prod(1 + R_k) ^ (365.25 /
  sum(days_k)) - 1`. It is undefined (None) when the in-sample figure is not positive: a
  ratio over a loss or over zero says nothing about holding up out of sample.
- t-statistic of the mean daily return: `mean / (std(ddof=1) / sqrt(n))` over the n daily
  returns, with its two-sided p-value from Student's t with n - 1 degrees of freedom.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.engine import ParamValue
from app.engine.feed import FloatArray
from app.engine.metrics import DAYS_PER_CALENDAR_YEAR


def annualised_return(total_return: float | None, days: float) -> float | None:
    """`(1 + total_return) ^ (365.25 / days) - 1`; None when undefined or too large."""
    if total_return is None or days <= 0 or not math.isfinite(total_return):
        return None
    growth = 1.0 + total_return
    if growth <= 0:
        return None
    try:
        value = growth ** (DAYS_PER_CALENDAR_YEAR / days) - 1.0
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def efficiency(out_of_sample: float | None, in_sample: float | None) -> float | None:
    """Annualised OOS return / annualised IS return; None when IS is missing or <= 0."""
    if out_of_sample is None or in_sample is None or in_sample <= 0:
        return None
    value = out_of_sample / in_sample
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class WindowReturn:
    """One window's total return (fraction) and the calendar days it covers."""

    total_return: float
    days: float


def compounded_annual_return(windows: Sequence[WindowReturn]) -> float | None:
    """The windows' returns compounded, annualised over the sum of their days."""
    if not windows:
        return None
    growth = 1.0
    for window in windows:
        growth *= 1.0 + window.total_return
    return annualised_return(growth - 1.0, sum(window.days for window in windows))


@dataclass(frozen=True, slots=True)
class MeanReturnTest:
    """Student's t-test of `mean daily return = 0`."""

    days: int
    mean: float | None
    std: float | None
    t_stat: float | None
    p_value: float | None  # two-sided

    def to_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "mean_daily_return": self.mean,
            "std_daily_return": self.std,
            "t_stat": self.t_stat,
            "p_value": self.p_value,
            "definition": "t = mean / (std(ddof=1) / sqrt(days)); p two-sided, Student t, "
            "days - 1 degrees of freedom",
        }


def mean_return_t_test(returns: FloatArray) -> MeanReturnTest:
    """t-statistic and two-sided p-value of the mean of `returns`; None where undefined
    (fewer than two returns, or no variation)."""
    n = len(returns)
    if n < 2:
        mean = float(np.mean(returns)) if n else None
        return MeanReturnTest(n, mean, None, None, None)
    mean = float(np.mean(returns))
    std = float(np.std(returns, ddof=1))
    if std == 0 or not math.isfinite(std):
        return MeanReturnTest(n, mean, std, None, None)
    t_stat = mean / (std / math.sqrt(n))
    from scipy import stats  # scipy is heavy: loaded when a walk-forward gets this far

    p_value = float(2.0 * stats.t.sf(abs(t_stat), df=n - 1))
    return MeanReturnTest(n, mean, std, t_stat, p_value)


def parameter_stability(
    chosen: Sequence[Mapping[str, ParamValue]],
    spans: Mapping[str, tuple[float, float]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per param, how the chosen values move across folds (in fold order).

    Every param: `values`, `distinct` (count), `most_common` and its `most_common_share`,
    `changes` (folds whose value differs from the fold before). Numeric params also get
    `mean`, `std` (ddof=1, None for one fold), `cv` = std / |mean| (None when the mean is 0),
    `min`, `max`, and, when `spans` gives the searched (low, high), `range_share` =
    (max - min) / (high - low): 0 is one value every fold, 1 the whole searched range.
    """
    names = list(dict.fromkeys(name for params in chosen for name in params))
    return {name: _stability([p[name] for p in chosen if name in p], name, spans) for name in names}


def _stability(
    values: list[ParamValue], name: str, spans: Mapping[str, tuple[float, float]] | None
) -> dict[str, Any]:
    counts = Counter(values)
    most_common = max(counts, key=lambda v: (counts[v], -values.index(v)))
    figures: dict[str, Any] = {
        "values": values,
        "distinct": len(counts),
        "most_common": most_common,
        "most_common_share": counts[most_common] / len(values),
        "changes": sum(1 for a, b in itertools.pairwise(values) if a != b),
    }
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return figures
    numbers = np.asarray(values, dtype=np.float64)
    mean = float(np.mean(numbers))
    std = float(np.std(numbers, ddof=1)) if len(numbers) > 1 else None
    figures.update(
        mean=mean,
        std=std,
        cv=std / abs(mean) if std is not None and mean != 0 else None,
        min=values[int(np.argmin(numbers))],
        max=values[int(np.argmax(numbers))],
    )
    if spans is not None and name in spans:
        low, high = spans[name]
        width = high - low
        figures["range_share"] = (
            float(np.max(numbers) - np.min(numbers)) / width if width > 0 else 0.0
        )
    return figures
