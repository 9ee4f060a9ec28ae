"""Figures a report derives from a run's equity curve and trades: drawdown periods, monthly
and yearly returns, rolling Sharpe and volatility, histograms, buy-and-hold.

Conventions are the engine's (docs/engine.md, "Metrics"): daily returns are the changes
between consecutive UTC day-end equities (`app.engine.metrics.daily_returns`), drawdown is
measured on the bar-by-bar marked-to-market equity from a running peak that starts at the
initial cash (`app.engine.metrics.drawdown`), annualisation multiplies by sqrt(D) with D the
run's `annualisation_days`. Times are epoch nanoseconds (UTC); returns are fractions
(0.05 = +5 %). Everything here is pure: arrays in, frozen records out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.engine.feed import FloatArray, IntArray
from app.engine.metrics import NS_PER_DAY, daily_returns, day_end_indices, drawdown

ROLLING_WINDOW_DAYS = 90
"""Window of the rolling Sharpe and volatility, in daily returns (calendar days for 24/7 data)."""


@dataclass(frozen=True, slots=True)
class DrawdownPeriod:
    """One fall from a running peak and its recovery.

    `depth` is the fraction below the peak at the trough (<= 0). Times are the `time` column
    of equity.csv (the bar whose close marked the equity); the peak of the initial cash is the
    first bar's time. `recovery_time` is None when the equity never got back to the peak.
    `days` runs from the peak to the recovery (or to the end of the data) on the engine's clock
    (marks at bar closes), the clock of `max_drawdown_days`.
    """

    depth: float
    peak_time: int
    trough_time: int
    recovery_time: int | None
    days: float


@dataclass(frozen=True, slots=True)
class MonthReturn:
    """The return of one calendar month (`month` 1-12, UTC): month-end equity / previous
    month-end equity - 1, the first month against the initial cash."""

    year: int
    month: int
    value: float


@dataclass(frozen=True, slots=True)
class YearReturn:
    """The return of one calendar year (UTC), chained like MonthReturn."""

    year: int
    value: float


@dataclass(frozen=True, slots=True)
class RollingStats:
    """Rolling annualised Sharpe and volatility over `window_days` daily returns, one value
    per UTC day end from the window's first full day (`time`)."""

    window_days: int
    time: IntArray
    sharpe: FloatArray
    volatility: FloatArray


@dataclass(frozen=True, slots=True)
class Histogram:
    """Counts of `values` in equal bins: bin i is [edges[i], edges[i + 1]) (the last closed)."""

    edges: FloatArray
    counts: IntArray


def bar_ns_of(times: IntArray) -> int:
    """The bar length of an equity curve: the smallest gap between marks (one day if one bar)."""
    gaps = np.diff(times)
    positive = gaps[gaps > 0]
    return int(positive.min()) if len(positive) else NS_PER_DAY


def day_returns(times: IntArray, equity: FloatArray) -> tuple[IntArray, FloatArray]:
    """Daily returns (the engine's) and the time of the day end each one ends at."""
    returns = daily_returns(times, equity)
    ends = times[day_end_indices(times)][1:]
    return ends, returns


def drawdown_periods(
    initial: float, times: IntArray, equity: FloatArray, *, top: int = 5
) -> list[DrawdownPeriod]:
    """The `top` deepest drawdowns, deepest first (the first one's depth is max_drawdown)."""
    if len(times) == 0:
        return []
    series = np.concatenate(([initial], equity))
    peaks = np.maximum.accumulate(series)
    at_peak = series >= peaks
    starts = np.flatnonzero(at_peak)  # each peak position begins a (possibly empty) period
    bar_ns = bar_ns_of(times)
    clock = np.concatenate(([times[0]], times + bar_ns))
    stamps = np.concatenate(([times[0]], times))
    depths = drawdown(initial, equity)
    ends = np.append(starts[1:], len(series))
    falls = ends - starts >= 2  # otherwise the next mark is a peak again: no fall
    periods: list[DrawdownPeriod] = []
    for start, end in zip(starts[falls].tolist(), ends[falls].tolist(), strict=True):
        segment = depths[start : end - 1]  # depths of marks start+1 .. end-1 (0-based bars)
        trough = start + 1 + int(np.argmin(segment))
        recovered = end < len(series)
        periods.append(
            DrawdownPeriod(
                depth=float(depths[trough - 1]),
                peak_time=int(stamps[start]),
                trough_time=int(stamps[trough]),
                recovery_time=int(stamps[end]) if recovered else None,
                days=float(clock[end if recovered else len(series) - 1] - clock[start])
                / NS_PER_DAY,
            )
        )
    periods.sort(key=lambda period: (period.depth, period.peak_time))
    return [period for period in periods[:top] if period.depth < 0]


def period_returns(
    initial: float, times: IntArray, equity: FloatArray
) -> tuple[list[MonthReturn], list[YearReturn]]:
    """Monthly and yearly returns (UTC calendar), from the equity at each period's last bar."""
    if len(times) == 0:
        return [], []
    stamps = pd.to_datetime(times, unit="ns", utc=True)
    monthly = _chained(initial, equity, stamps.year * 100 + stamps.month)
    yearly = _chained(initial, equity, stamps.year)
    months = [MonthReturn(key // 100, key % 100, value) for key, value in monthly]
    years = [YearReturn(key, value) for key, value in yearly]
    return months, years


def _chained(initial: float, equity: FloatArray, keys: pd.Index) -> list[tuple[int, float]]:
    codes = np.asarray(keys, dtype=np.int64)
    last = np.flatnonzero(np.diff(codes, append=codes[-1] + 1) != 0)
    ends = equity[last]
    previous = np.concatenate(([initial], ends[:-1]))
    with np.errstate(all="ignore"):
        values = ends / previous - 1.0
    return [
        (int(code), float(value))
        for code, value in zip(codes[last].tolist(), values.tolist(), strict=True)
    ]


def rolling_stats(
    times: IntArray,
    equity: FloatArray,
    *,
    days_per_year: int,
    risk_free_rate: float,
    window_days: int = ROLLING_WINDOW_DAYS,
) -> RollingStats:
    """Rolling Sharpe (mean excess / std ddof=1 x sqrt(D)) and volatility (std x sqrt(D)) over
    the last `window_days` daily returns; NaN where the window's std is 0."""
    ends, returns = day_returns(times, equity)
    if len(returns) < window_days:
        empty = np.empty(0)
        return RollingStats(window_days, np.empty(0, dtype=np.int64), empty, empty)
    frame = pd.Series(returns - risk_free_rate / days_per_year)
    mean = frame.rolling(window_days).mean().to_numpy()[window_days - 1 :]
    std = pd.Series(returns).rolling(window_days).std(ddof=1).to_numpy()[window_days - 1 :]
    annual = math.sqrt(days_per_year)
    with np.errstate(all="ignore"):
        sharpe = np.where(std > 0, mean / std * annual, np.nan)
    return RollingStats(window_days, ends[window_days - 1 :], sharpe, std * annual)


def histogram(values: FloatArray, *, bins: int = 40) -> Histogram:
    """Equal-width bins over the finite values (one bin around a single value)."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return Histogram(np.empty(0), np.empty(0, dtype=np.int64))
    low, high = float(finite.min()), float(finite.max())
    if high - low <= 1e-9 * max(abs(low), abs(high)):  # one value, up to float rounding
        centre = (low + high) / 2  # (numpy refuses bins narrower than the floats can tell)
        pad = 0.005 * (abs(centre) or 1.0)
        edges = np.array([centre - pad, centre + pad])
        return Histogram(edges, np.array([len(finite)], dtype=np.int64))
    counts, edges = np.histogram(finite, bins=bins, range=(low, high))
    return Histogram(edges.astype(np.float64), counts.astype(np.int64))


def buy_and_hold_equity(initial: float, closes: FloatArray) -> FloatArray:
    """The equity of holding the asset from the first traded bar's close: initial x close /
    first close (as the engine's buy_and_hold_return: last close / first close - 1)."""
    if len(closes) == 0:
        return np.empty(0)
    return initial * closes / closes[0]  # type: ignore[no-any-return]


def trade_returns(pnl: FloatArray, size: FloatArray, entry_price: FloatArray) -> FloatArray:
    """Per-trade returns: net pnl / (size x entry price), as the engine's avg_trade_pct
    (a fraction here, not percent)."""
    with np.errstate(all="ignore"):
        return pnl / (size * entry_price)
