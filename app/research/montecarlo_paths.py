"""Figures of many simulated equity paths at once (one path per row): final equity, CAGR, max
drawdown, longest drawdown, Sharpe on day-end equity, ruin, and the marks a fan chart draws.

A path is a row of equity marks that starts with the starting equity; `clock` gives the time of
each mark (epoch ns for trade paths, day numbers x one day for daily paths), shared by every
row. Conventions are the engine's (app/engine/metrics.py) where they apply:
- max drawdown: the largest fall of a mark below the running peak of the marks, a fraction <= 0;
- longest drawdown: the longest time from a peak to the first mark back at or above it (or the
  last mark when it never recovers), counted only when the path fell below that peak, in days;
- Sharpe: mean(day-end return - risk_free_rate / D) / std(ddof=1) x sqrt(D), NaN when the
  day-end returns do not vary; a return after the equity reached 0 counts as 0;
- CAGR: (final / start) ^ (365.25 / calendar_days) - 1, -1 for a path that lost everything.
Pure numpy; no figure is computed row by row in Python.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.engine.feed import FloatArray, IntArray
from app.engine.metrics import DAYS_PER_CALENDAR_YEAR, NS_PER_DAY

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class PathClock:
    """When each mark of a path is taken, and which marks close each UTC day.

    `times` (epoch ns, one per mark, ascending) times the drawdowns; `day_end_marks[d]` is the
    index of the mark that holds the equity at the end of day d (the Sharpe's day-end equity);
    `calendar_days` is the span the CAGR annualises over."""

    times: IntArray
    day_end_marks: IntArray
    calendar_days: float


@dataclass(frozen=True, slots=True)
class PathFigures:
    """One value per simulated path (NaN where a figure is undefined for that path)."""

    final_equity: FloatArray
    cagr: FloatArray
    max_drawdown: FloatArray
    sharpe: FloatArray
    longest_drawdown_days: FloatArray
    lowest_equity: FloatArray


def path_buffer(rows: int, steps: int, *, hold_last: bool) -> FloatArray:
    """Room for `rows` paths of `steps` returns: marks 0 (start) .. steps, and one more that
    repeats the last when `hold_last` (a trade path held to the end of the run). Columns
    1 .. steps take the growth factors 1 + r, then `compound` turns them into equity in place."""
    return np.empty((rows, steps + 1 + int(hold_last)))


def growth_factors(returns: FloatArray) -> FloatArray:
    """1 + r for each return, a return below -100 % taken as -100 % (a factor of 0: the equity
    stops at 0, never below)."""
    factors: FloatArray = 1.0 + np.maximum(returns, -1.0)
    return factors


def compound(paths: FloatArray, start_equity: float, steps: int) -> FloatArray:
    """Turn the growth factors in columns 1 .. `steps` of `paths` into compounding equity in
    place: mark 0 = start_equity, mark k = start_equity x (1 + r_1) x ... x (1 + r_k)."""
    paths[:, 0] = start_equity
    marks = paths[:, : steps + 1]
    np.cumprod(marks, axis=1, out=marks)
    if paths.shape[1] > steps + 1:
        paths[:, steps + 1 :] = paths[:, steps : steps + 1]
    return paths


def _longest_drawdown_days(paths: FloatArray, below: BoolArray, times: IntArray) -> FloatArray:
    """For each row: the longest time from a peak to its recovery (the first mark back at or
    above it) or to the last mark, over the falls below a peak (0 if it never falls), days.
    `below[i, j]`: mark j of row i is below the running peak."""
    marks = np.arange(paths.shape[1], dtype=np.int32)
    last_peak = np.maximum.accumulate(np.where(below, np.int32(0), marks), axis=1)
    recovered = below[:, :-1] & ~below[:, 1:]  # mark j + 1 is the first back at the peak
    rows, columns = np.nonzero(recovered)
    longest = np.zeros(paths.shape[0], dtype=np.int64)
    np.maximum.at(longest, rows, times[columns + 1] - times[last_peak[rows, columns]])
    falling = np.flatnonzero(below[:, -1])  # still below a peak at the end
    longest[falling] = np.maximum(longest[falling], times[-1] - times[last_peak[falling, -1]])
    days: FloatArray = longest / NS_PER_DAY
    return days


def _day_end_sharpe(
    paths: FloatArray, day_end_marks: IntArray, *, days_per_year: int, risk_free_rate: float
) -> FloatArray:
    if len(day_end_marks) < 3:
        return np.full(paths.shape[0], np.nan)
    day_end = paths[:, day_end_marks]
    previous = day_end[:, :-1]
    change = day_end[:, 1:] - previous
    returns = np.divide(change, previous, out=np.zeros_like(change), where=previous > 0)
    std = np.std(returns, axis=1, ddof=1)
    mean = np.mean(returns - risk_free_rate / days_per_year, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = mean / std * math.sqrt(days_per_year)
    return np.where(std > 0, sharpe, np.nan)


def _cagr(final: FloatArray, start: float, calendar_days: float) -> FloatArray:
    if calendar_days <= 0:
        return np.full(final.shape, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        value = (final / start) ** (DAYS_PER_CALENDAR_YEAR / calendar_days) - 1.0
    return np.where(np.isfinite(value), value, np.nan)


def path_figures(
    paths: FloatArray, clock: PathClock, *, days_per_year: int, risk_free_rate: float
) -> PathFigures:
    """The figures of every row of `paths` (marks on `clock`)."""
    start = float(paths[0, 0])
    peaks = np.maximum.accumulate(paths, axis=1)  # > 0: every path starts above 0
    below = paths < peaks
    lowest_ratio = np.divide(paths, peaks, out=peaks).min(axis=1)
    final = paths[:, -1].copy()
    return PathFigures(
        final_equity=final,
        cagr=_cagr(final, start, clock.calendar_days),
        max_drawdown=lowest_ratio - 1.0,
        sharpe=_day_end_sharpe(
            paths,
            clock.day_end_marks,
            days_per_year=days_per_year,
            risk_free_rate=risk_free_rate,
        ),
        longest_drawdown_days=_longest_drawdown_days(paths, below, clock.times),
        lowest_equity=paths.min(axis=1),
    )


def fan_marks(marks: int, points: int) -> IntArray:
    """Indices of at most `points` marks spread evenly from the first to the last (both kept),
    where a fan chart samples every path."""
    return np.unique(np.linspace(0, marks - 1, num=min(points, marks)).round().astype(np.int64))


def concatenate(figures: list[PathFigures]) -> PathFigures:
    """The figures of several batches of paths, in batch order."""
    return PathFigures(
        *(
            np.concatenate([getattr(batch, name) for batch in figures])
            for name in PathFigures.__slots__
        )
    )
