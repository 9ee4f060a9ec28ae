"""Data-quality checks on OHLCV bars, reported as data: each problem with its code and times."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from app.data.problems import Problem, ProblemCode, ValidationReport, format_time
from app.data.resample import OHLCV_COLUMNS, parse_timeframe
from app.deferred_imports import deferred
from app.engine.types import Severity

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

logger = logging.getLogger(__name__)

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
MAX_EXAMPLES = 10
_MAD_TO_SIGMA = 1.4826  # median absolute deviation -> standard deviation for a normal sample


@dataclass(frozen=True, slots=True)
class ValidationRules:
    """Thresholds of the checks.

    A close-to-close move is an outlier when its absolute simple return exceeds both
    `outlier_sigmas` robust standard deviations (1.4826 x median absolute deviation of all
    returns) and `outlier_min_return` (0.2 = a 20% move). Zero-volume runs shorter
    than `min_zero_volume_run` bars are not reported.
    """

    outlier_sigmas: float = 25.0
    outlier_min_return: float = 0.2
    min_zero_volume_run: int = 5


@dataclass(frozen=True, slots=True)
class _Bars:
    """Bars sorted by time with duplicates dropped, as arrays."""

    times: NDArray[np.int64]
    values: Mapping[str, NDArray[np.float64]] = field(default_factory=dict)


def describe_duration(length: pd.Timedelta) -> str:
    """A short human duration such as `3m`, `2h 5m` or `1d 4h 30s`."""
    seconds = int(length.total_seconds())
    parts = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        amount, seconds = divmod(seconds, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return " ".join(parts) or "0s"


def validate_ohlcv(
    frame: pd.DataFrame,
    *,
    timeframe: str | None = None,
    rules: ValidationRules | None = None,
) -> ValidationReport:
    """Check OHLCV bars and report every problem found, never raising for bad data.

    `frame` has a `time` column (rows in file order, so unsorted rows can be reported) or a
    UTC DatetimeIndex, and float columns open, high, low, close, volume. Gaps are measured
    against `timeframe` (inferred as the most common spacing when not given). Fatal:
    conflicting duplicate bars, OHLC violations, non-positive prices, negative volume, NaNs,
    no rows. Warnings: unsorted bars, exact duplicate bars, gaps, outlier returns, zero-volume
    runs.
    """
    limits = rules or ValidationRules()
    times = _times_of(frame)
    if len(times) == 0:
        return ValidationReport(
            (_problem(ProblemCode.EMPTY, Severity.ERROR, "there are no bars", 0),)
        )
    problems = [*_unsorted(times)]
    order = np.argsort(times, kind="mergesort")
    times = times[order]
    values: dict[str, NDArray[np.float64]] = {
        name: frame[name].to_numpy(dtype="float64")[order] for name in OHLCV_COLUMNS
    }
    problems += _duplicates(times, values)
    keep = np.concatenate(([True], times[1:] != times[:-1]))
    bars = _Bars(times[keep], {name: column[keep] for name, column in values.items()})
    problems += _missing_values(bars)
    problems += _non_positive_prices(bars)
    problems += _negative_volume(bars)
    problems += _ohlc_violations(bars)
    problems += _gaps(bars, _step_ns(bars.times, timeframe))
    problems += _outlier_returns(bars, limits)
    problems += _zero_volume_runs(bars, limits.min_zero_volume_run)
    fatal_first = sorted(problems, key=lambda p: p.severity is not Severity.ERROR)
    return ValidationReport(tuple(fatal_first))


def _times_of(frame: pd.DataFrame) -> NDArray[np.int64]:
    source = frame["time"] if "time" in frame.columns else frame.index.to_series()
    stamps = pd.DatetimeIndex(pd.to_datetime(source, utc=True)).as_unit("ns")
    return np.asarray(stamps.asi8, dtype=np.int64)


def _stamp(nanoseconds: int | np.int64) -> pd.Timestamp:
    return pd.Timestamp(int(nanoseconds), unit="ns", tz="UTC")


def _problem(
    code: ProblemCode,
    severity: Severity,
    message: str,
    count: int,
    times: NDArray[np.int64] | None = None,
) -> Problem:
    if times is None or len(times) == 0:
        return Problem(code, severity, message, count)
    examples = tuple(_stamp(moment) for moment in times[:MAX_EXAMPLES])
    return Problem(code, severity, message, count, _stamp(times[0]), _stamp(times[-1]), examples)


def _unsorted(times: NDArray[np.int64]) -> list[Problem]:
    backwards = np.flatnonzero(times[1:] < times[:-1]) + 1
    if len(backwards) == 0:
        return []
    first = int(backwards[0])
    message = (
        f"{len(backwards)} bar(s) are out of time order, first {format_time(_stamp(times[first]))} "
        f"after {format_time(_stamp(times[first - 1]))}; they are sorted on import"
    )
    return [
        _problem(
            ProblemCode.UNSORTED_BARS, Severity.WARNING, message, len(backwards), times[backwards]
        )
    ]


def _duplicates(
    times: NDArray[np.int64], values: Mapping[str, NDArray[np.float64]]
) -> list[Problem]:
    repeated = np.flatnonzero(times[1:] == times[:-1]) + 1
    if len(repeated) == 0:
        return []
    same = np.ones(len(repeated), dtype=bool)
    for column in values.values():
        now, before = column[repeated], column[repeated - 1]
        same &= (now == before) | (np.isnan(now) & np.isnan(before))
    problems: list[Problem] = []
    exact, conflicting = times[repeated[same]], times[repeated[~same]]
    if len(exact):
        message = (
            f"{len(exact)} bar(s) repeat an earlier bar exactly, first at "
            f"{format_time(_stamp(exact[0]))}; the copies are dropped on import"
        )
        problems.append(
            _problem(ProblemCode.DUPLICATE_BARS, Severity.WARNING, message, len(exact), exact)
        )
    if len(conflicting):
        message = (
            f"{len(conflicting)} bar(s) share their time with a different bar, first at "
            f"{format_time(_stamp(conflicting[0]))}; keep one version of each bar"
        )
        problems.append(
            _problem(
                ProblemCode.CONFLICTING_DUPLICATES,
                Severity.ERROR,
                message,
                len(conflicting),
                conflicting,
            )
        )
    return problems


def _missing_values(bars: _Bars) -> list[Problem]:
    problems = []
    for name, column in bars.values.items():
        rows = np.flatnonzero(np.isnan(column))
        if len(rows):
            message = (
                f"column {name} has {len(rows)} empty (NaN) value(s), first at "
                f"{format_time(_stamp(bars.times[rows[0]]))}; fill or remove those bars"
            )
            problems.append(
                _problem(
                    ProblemCode.MISSING_VALUES, Severity.ERROR, message, len(rows), bars.times[rows]
                )
            )
    return problems


def _non_positive_prices(bars: _Bars) -> list[Problem]:
    bad = np.zeros(len(bars.times), dtype=bool)
    for name in PRICE_COLUMNS:
        bad |= bars.values[name] <= 0
    rows = np.flatnonzero(bad)
    if len(rows) == 0:
        return []
    message = (
        f"{len(rows)} bar(s) have a price of zero or below, first at "
        f"{format_time(_stamp(bars.times[rows[0]]))}; prices must be positive"
    )
    return [
        _problem(
            ProblemCode.NON_POSITIVE_PRICE, Severity.ERROR, message, len(rows), bars.times[rows]
        )
    ]


def _negative_volume(bars: _Bars) -> list[Problem]:
    rows = np.flatnonzero(bars.values["volume"] < 0)
    if len(rows) == 0:
        return []
    message = (
        f"{len(rows)} bar(s) have negative volume, first at "
        f"{format_time(_stamp(bars.times[rows[0]]))}; volume must be zero or more"
    )
    return [
        _problem(ProblemCode.NEGATIVE_VOLUME, Severity.ERROR, message, len(rows), bars.times[rows])
    ]


def _ohlc_violations(bars: _Bars) -> list[Problem]:
    o, h, low, c = (bars.values[name] for name in PRICE_COLUMNS)
    bad = (h < np.maximum(o, c)) | (low > np.minimum(o, c)) | (h < low)
    rows = np.flatnonzero(bad)
    if len(rows) == 0:
        return []
    first = int(rows[0])
    message = (
        f"{len(rows)} bar(s) break the OHLC rules (high below open/close or low above them), "
        f"first at {format_time(_stamp(bars.times[first]))} with open={o[first]:g}, "
        f"high={h[first]:g}, low={low[first]:g}, close={c[first]:g}"
    )
    return [
        _problem(ProblemCode.OHLC_VIOLATION, Severity.ERROR, message, len(rows), bars.times[rows])
    ]


def _step_ns(times: NDArray[np.int64], timeframe: str | None) -> int | None:
    if timeframe is not None:
        delta = parse_timeframe(timeframe).delta
        return None if delta is None else int(delta.value)
    spacing = np.diff(times)
    if len(spacing) == 0:
        return None
    steps, counts = np.unique(spacing, return_counts=True)
    return int(steps[np.argmax(counts)])


def _gaps(bars: _Bars, step_ns: int | None) -> list[Problem]:
    if step_ns is None or step_ns <= 0:
        return []
    spacing = np.diff(bars.times)
    problems = []
    for row in np.flatnonzero(spacing > step_ns):
        before, after = int(bars.times[row]), int(bars.times[row + 1])
        missing = (after - before) // step_ns - (1 if (after - before) % step_ns == 0 else 0)
        first_missing, last_missing = before + step_ns, after - step_ns
        length = describe_duration(pd.Timedelta(after - before - step_ns))
        message = (
            f"{missing} bar(s) missing from {format_time(_stamp(first_missing))} to "
            f"{format_time(_stamp(last_missing))} (a gap of {length})"
        )
        span = np.array([first_missing, last_missing], dtype=np.int64)
        problems.append(_problem(ProblemCode.GAP, Severity.WARNING, message, int(missing), span))
    return problems


def _outlier_returns(bars: _Bars, rules: ValidationRules) -> list[Problem]:
    close = bars.values["close"]
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = close[1:] / np.where(close[:-1] > 0, close[:-1], np.nan) - 1.0
    finite = returns[np.isfinite(returns)]
    if len(finite) < 2:
        return []
    deviation = np.median(np.abs(finite - np.median(finite))) * _MAD_TO_SIGMA
    threshold = max(rules.outlier_sigmas * float(deviation), rules.outlier_min_return)
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(np.abs(returns) > threshold) + 1
    if len(rows) == 0:
        return []
    largest = int(rows[np.argmax(np.abs(returns[rows - 1]))])
    message = (
        f"{len(rows)} bar(s) close more than {threshold:.1%} away from the previous close, "
        f"the largest {returns[largest - 1]:+.1%} at {format_time(_stamp(bars.times[largest]))}; "
        "check them against the exchange"
    )
    return [
        _problem(ProblemCode.OUTLIER_RETURN, Severity.WARNING, message, len(rows), bars.times[rows])
    ]


def _zero_volume_runs(bars: _Bars, min_run: int) -> list[Problem]:
    zero = np.concatenate(([False], bars.values["volume"] == 0, [False])).astype(np.int8)
    edges = np.diff(zero)
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    problems = []
    for start, stop in zip(starts, stops, strict=True):
        length = int(stop - start)
        if length < max(min_run, 1):
            continue
        span = bars.times[[start, stop - 1]]
        message = (
            f"volume is zero for {length} consecutive bar(s) from "
            f"{format_time(_stamp(span[0]))} to {format_time(_stamp(span[1]))}"
        )
        problems.append(
            _problem(ProblemCode.ZERO_VOLUME_RUN, Severity.WARNING, message, length, span)
        )
    return problems


def validate_funding(frame: pd.DataFrame) -> ValidationReport:
    """Check a funding-rate series (`time`, `funding_rate`, ...): order, duplicates and NaNs."""
    times = _times_of(frame)
    if len(times) == 0:
        problem = _problem(ProblemCode.EMPTY, Severity.ERROR, "there are no funding rates", 0)
        return ValidationReport((problem,))
    columns = [name for name in frame.columns if name != "time"]
    order = np.argsort(times, kind="mergesort")
    values: dict[str, NDArray[np.float64]] = {
        name: frame[name].to_numpy(dtype="float64")[order] for name in columns
    }
    problems = [*_unsorted(times), *_duplicates(times[order], values)]
    keep = np.concatenate(([True], times[order][1:] != times[order][:-1]))
    bars = _Bars(times[order][keep], {name: column[keep] for name, column in values.items()})
    problems += _missing_values(bars)
    fatal_first = sorted(problems, key=lambda p: p.severity is not Severity.ERROR)
    return ValidationReport(tuple(fatal_first))
