"""Performance metrics of a finished run, each with its stated convention.

Conventions (DESIGN.md): daily returns are the changes between consecutive UTC day-end equities
(the equity at the close of the last bar that opens on each UTC day); Sharpe = mean excess daily
return / its sample standard deviation (ddof=1) x sqrt(D), D = 365 for 24/7 markets or 252;
Sortino's downside deviation is the root mean square of min(excess return, 0) over all days;
volatility = sample std of daily returns x sqrt(D); CAGR uses calendar time (365.25-day years);
Calmar = CAGR / |max drawdown|; PSR, skewness and (raw) kurtosis of the daily excess returns
follow `app.engine.sharpe_statistics` (per-day Sharpe against a benchmark Sharpe of 0, None
when the Sharpe is); max drawdown and its duration come from the bar-by-bar marked-to-market
equity, starting from the initial cash. Undefined figures are None, and so is
a figure too large for a float (a return over a nearly empty account, a ratio over a vanishing
denominator): metrics are finite numbers or None, never infinity or NaN, and computing them
raises no floating-point warning.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from app.engine.feed import FloatArray, IntArray
from app.engine.record_tables import RecordTable
from app.engine.sharpe_statistics import probabilistic_sharpe_ratio, return_moments
from app.engine.types import ExitReason, Trade

NS_PER_DAY = 86_400_000_000_000
DAYS_PER_CALENDAR_YEAR = 365.25

MetricValue = float | int | str | None
END_OF_DATA = ExitReason.END_OF_DATA

DEFINITIONS: dict[str, str] = {
    "total_return": "final equity / initial cash - 1",
    "cagr": "(final / initial) ^ (365.25 / calendar days) - 1",
    "volatility": "sample std (ddof=1) of daily returns x sqrt(D)",
    "sharpe": "mean(daily excess return) / std(ddof=1) x sqrt(D)",
    "sortino": "mean(daily excess return) / sqrt(mean(min(r, 0)^2)) x sqrt(D)",
    "calmar": "CAGR / |max drawdown|",
    "psr": "P(true Sharpe > 0) from the per-day Sharpe, skewness and raw kurtosis (Bailey & "
    "Lopez de Prado 2012)",
    "skewness": "m3 / m2^1.5 of daily returns (central moments over n)",
    "kurtosis": "raw kurtosis m4 / m2^2 of daily returns (3 for a normal distribution)",
    "max_drawdown": "largest fall of bar-by-bar equity from its running peak (fraction, <= 0)",
    "max_drawdown_days": "longest time from a peak to the recovery of that peak (or the end)",
    "trades": "closed trades; a partial close counts as one",
    "win_rate": "trades with pnl > 0 / trades",
    "profit_factor": "sum of winning pnl / |sum of losing pnl|",
    "expectancy": "mean net pnl per trade, quote units",
    "avg_trade_pct": "mean of pnl / (size x entry price) per trade, percent",
    "exposure": "share of bars that closed with a position open",
    "fees_paid": "all trading fees, incl. liquidation clearance fees, quote units",
    "funding_paid": "net funding paid (negative: received), quote units",
    "liquidations": "positions liquidated",
    "buy_and_hold_return": "last close / first close - 1 over the traded period",
}


def day_end_indices(times: IntArray) -> IntArray:
    """Index of the last bar of each UTC day in `times` (epoch ns, ascending)."""
    if len(times) == 0:
        return np.empty(0, dtype=np.int64)
    days = times // NS_PER_DAY
    # where the day changes after a bar, then the last bar: one bool per bar beside `days`
    changes = np.flatnonzero(days[1:] != days[:-1])
    return np.append(changes, len(days) - 1)


def daily_returns(times: IntArray, equity: FloatArray) -> FloatArray:
    """Changes between consecutive UTC day-end equities."""
    if len(times) == 0:
        return np.empty(0)
    day_end = equity[day_end_indices(times)]
    if len(day_end) < 2:
        return np.empty(0)
    return np.diff(day_end) / day_end[:-1]


def drawdown(initial: float, equity: FloatArray) -> FloatArray:
    """Fractional distance below the running peak (<= 0), bar by bar."""
    drawdowns = running_peaks(initial, equity)
    np.divide(equity, drawdowns, out=drawdowns)  # one array for the whole series (1M bars: 8 MB)
    drawdowns -= 1.0
    return drawdowns


def running_peaks(initial: float, equity: FloatArray) -> FloatArray:
    """The highest of `initial` and the equity so far, bar by bar (a new array)."""
    peaks: FloatArray = np.maximum.accumulate(equity)
    np.maximum(peaks, initial, out=peaks)
    return peaks


def _max_drawdown_days(initial: float, times: IntArray, equity: FloatArray, bar_ns: int) -> float:
    # Over the series [initial, *equity]: the start and each bar at its running peak; the
    # clock of series point p is times[0] for the start, else bar p - 1's close.
    at_peak = equity >= running_peaks(initial, equity)
    peak_positions = np.concatenate(([0], np.flatnonzero(at_peak) + 1))
    del at_peak
    ends = np.append(peak_positions[1:], len(equity))
    longest = (
        int(np.max(_clock(times, ends, bar_ns) - _clock(times, peak_positions, bar_ns)))
        if len(ends)
        else 0
    )
    return longest / NS_PER_DAY


def _clock(times: IntArray, positions: IntArray, bar_ns: int) -> IntArray:
    """When series point `positions` was marked: the first bar's open for the start (0), else
    the close of bar `position - 1` (equity is marked at each bar close)."""
    closes: IntArray = times[np.maximum(positions - 1, 0)] + bar_ns
    return np.where(positions == 0, times[0], closes)


def _cagr(growth: float, calendar_days: float) -> float | None:
    """Compound annual growth; None when undefined or too large for a float (a big return
    over a few days annualises past 1e308)."""
    if calendar_days <= 0 or growth <= 0:
        return None
    try:
        return float(growth ** (DAYS_PER_CALENDAR_YEAR / calendar_days) - 1.0)
    except OverflowError:
        return None


def _ratio(numerator: float, denominator: float) -> float | None:
    if denominator == 0 or not math.isfinite(denominator):
        return None
    value = numerator / denominator
    return value if math.isfinite(value) else None


def _finite(value: MetricValue) -> MetricValue:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _finite_metrics[**Inputs](
    compute: Callable[Inputs, dict[str, MetricValue]],
) -> Callable[Inputs, dict[str, MetricValue]]:
    """`compute` with numpy's floating-point warnings off and every infinite or NaN figure
    turned into None (overflow and 0/0 give inf/NaN, which no figure may be)."""

    @functools.wraps(compute)
    def finite(*args: Inputs.args, **kwargs: Inputs.kwargs) -> dict[str, MetricValue]:
        with np.errstate(all="ignore"):
            metrics = compute(*args, **kwargs)
        return {key: _finite(value) for key, value in metrics.items()}

    return finite


@_finite_metrics
def compute_metrics(
    *,
    initial: float,
    times: IntArray,
    equity: FloatArray,
    exposed: npt.NDArray[np.bool_],
    trades: Sequence[Trade],
    closes: FloatArray,
    bar_ns: int,
    days_per_year: int,
    risk_free_rate: float,
    fees_paid: float,
    funding_paid: float,
    liquidations: int,
) -> dict[str, MetricValue]:
    """All run metrics; see DEFINITIONS and the module docstring for each convention. Every
    float is finite or None."""
    final = float(equity[-1]) if len(equity) else initial
    calendar_days = (int(times[-1]) + bar_ns - int(times[0])) / NS_PER_DAY if len(times) else 0
    total_return = final / initial - 1.0
    cagr = _cagr(final / initial, calendar_days)
    returns = daily_returns(times, equity)
    excess = returns - risk_free_rate / days_per_year
    annual = math.sqrt(days_per_year)
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    downside = float(np.sqrt(np.mean(np.minimum(excess, 0.0) ** 2))) if len(returns) else 0.0
    mean_excess = float(np.mean(excess)) if len(returns) else 0.0
    max_dd = float(np.min(drawdown(initial, equity))) if len(equity) else 0.0
    sharpe = _ratio(mean_excess, std)
    sortino = _ratio(mean_excess, downside)
    moments = return_moments(returns) if std > 0 else None
    psr = (
        probabilistic_sharpe_ratio(sharpe, len(returns), *moments)
        if sharpe is not None and moments is not None
        else None
    )
    table = RecordTable.from_records(Trade, trades)  # the columns (a table is used as it is)
    pnls = table.values("pnl")
    wins = pnls[pnls > 0]
    losses = pnls[pnls < 0]
    notionals = table.values("size") * table.values("entry_price")
    return {
        "start": int(times[0]) if len(times) else None,
        "end": int(times[-1]) if len(times) else None,
        "bars": len(times),
        "initial_equity": initial,
        "final_equity": final,
        "total_return": total_return,
        "cagr": cagr,
        "volatility": std * annual if len(returns) > 1 else None,
        "sharpe": sharpe * annual if sharpe is not None else None,
        "sortino": sortino * annual if sortino is not None else None,
        "calmar": _ratio(cagr, abs(max_dd)) if cagr is not None else None,
        "psr": psr,
        "skewness": moments[0] if moments is not None else None,
        "kurtosis": moments[1] if moments is not None else None,
        "max_drawdown": max_dd,
        "max_drawdown_days": (
            _max_drawdown_days(initial, times, equity, bar_ns) if len(times) else 0.0
        ),
        "trades": len(table),
        "win_rate": len(wins) / len(table) if len(table) else None,
        "profit_factor": _ratio(float(wins.sum()), abs(float(losses.sum()))),
        "expectancy": float(pnls.mean()) if len(table) else None,
        "avg_trade_pct": float(np.mean(pnls / notionals) * 100) if len(table) else None,
        "exposure": float(np.mean(exposed)) if len(exposed) else 0.0,
        "fees_paid": fees_paid,
        "funding_paid": funding_paid,
        "liquidations": liquidations,
        "end_of_data_closes": int(np.count_nonzero(table.matches("exit_reason", END_OF_DATA))),
        "buy_and_hold_return": (float(closes[-1] / closes[0] - 1.0) if len(closes) else None),
    }
