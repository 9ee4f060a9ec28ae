"""Metrics checked by hand on tiny equity paths, per the conventions in app/engine/metrics.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.engine import ExitReason, PositionSide, Trade
from app.engine.metrics import (
    NS_PER_DAY,
    MetricValue,
    compute_metrics,
    daily_returns,
    drawdown,
)

HOUR = NS_PER_DAY // 24
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z


def metrics_of(
    equity: list[float],
    *,
    bar_ns: int = NS_PER_DAY,
    days_per_year: int = 365,
    risk_free_rate: float = 0.0,
    trades: tuple[Trade, ...] = (),
) -> dict[str, MetricValue]:
    times = T0 + bar_ns * np.arange(len(equity), dtype=np.int64)
    values = np.asarray(equity, dtype=np.float64)
    return compute_metrics(
        initial=100.0,
        times=times,
        equity=values,
        exposed=np.zeros(len(equity), dtype=bool),
        trades=trades,
        closes=values,
        bar_ns=bar_ns,
        days_per_year=days_per_year,
        risk_free_rate=risk_free_rate,
        fees_paid=0.0,
        funding_paid=0.0,
        liquidations=0,
    )


# One bar per day, equity 100 -> 110 -> 99 -> 108.9 from initial cash 100.
# Daily returns (day-end to day-end): +0.1, -0.1, +0.1.
# mean = 0.1 / 3 = 0.0333333; sample std = sqrt((2 x 0.0666667^2 + 0.1333333^2) / 2) = 0.1154701
# Sharpe = 0.0333333 / 0.1154701 x sqrt(365) = 0.2886751 x 19.1049732 = 5.5151307
# downside = sqrt((0 + 0.01 + 0) / 3) = 0.0577350; Sortino = 0.5773503 x 19.1049732 = 11.0302613
# max drawdown: 99 / 110 - 1 = -0.1; not recovered by the end: from the close of day 1 (peak
# 110) to the close of day 3: 2 days.
# CAGR: 4 calendar days, 1.089 ^ (365.25 / 4) - 1 = 2,403.9623
PATH = [100.0, 110.0, 99.0, 108.9]


def test_sharpe_is_mean_over_sample_std_of_day_end_returns_times_root_365() -> None:
    assert metrics_of(PATH)["sharpe"] == pytest.approx(5.5151307, rel=1e-7)


def test_sharpe_uses_root_252_for_markets_that_close() -> None:
    # 0.2886751 x sqrt(252) = 0.2886751 x 15.8745079 = 4.5825757
    assert metrics_of(PATH, days_per_year=252)["sharpe"] == pytest.approx(4.5825757, rel=1e-7)


def test_sortino_divides_by_root_mean_square_of_negative_returns_over_all_days() -> None:
    assert metrics_of(PATH)["sortino"] == pytest.approx(11.0302613, rel=1e-7)


def test_risk_free_rate_is_taken_per_day_from_the_mean() -> None:
    # rf 3.65 % a year = 0.0001 a day: (0.0333333 - 0.0001) / 0.1154701 x 19.1049732 = 5.4985855
    sharpe = metrics_of(PATH, risk_free_rate=0.0365)["sharpe"]
    assert sharpe == pytest.approx(5.4985855, rel=1e-7)


def test_volatility_is_sample_std_times_root_365() -> None:
    # 0.1154701 x 19.1049732 = 2.2060523
    assert metrics_of(PATH)["volatility"] == pytest.approx(2.2060523, rel=1e-7)


def test_max_drawdown_and_its_duration_on_bar_equity() -> None:
    metrics = metrics_of(PATH)
    assert metrics["max_drawdown"] == pytest.approx(-0.1)
    assert metrics["max_drawdown_days"] == pytest.approx(2.0)


def test_drawdown_counts_from_the_initial_cash() -> None:
    # A first bar below the initial 100 is already a drawdown: 90 / 100 - 1 = -0.1.
    np.testing.assert_allclose(drawdown(100.0, np.array([90.0, 120.0, 60.0])), [-0.1, 0.0, -0.5])


def test_cagr_uses_calendar_days_of_365_25() -> None:
    expected = 1.089 ** (365.25 / 4) - 1
    assert metrics_of(PATH)["cagr"] == pytest.approx(expected, rel=1e-12)
    assert math.isclose(expected, 2_403.9623, rel_tol=1e-7)
    # Calmar = CAGR / |max drawdown| = CAGR / 0.1
    assert metrics_of(PATH)["calmar"] == pytest.approx(expected / 0.1, rel=1e-12)


def test_daily_returns_use_the_last_bar_of_each_utc_day() -> None:
    # Hourly bars over 2 days: day ends are bar 23 (equity 23) and bar 47 (equity 47).
    times = T0 + HOUR * np.arange(48, dtype=np.int64)
    equity = np.arange(48, dtype=np.float64) + 1.0
    np.testing.assert_allclose(daily_returns(times, equity), [48.0 / 24.0 - 1])


def test_flat_equity_has_no_sharpe_or_sortino() -> None:
    metrics = metrics_of([100.0] * 5)
    assert (metrics["sharpe"], metrics["sortino"], metrics["max_drawdown"]) == (None, None, 0.0)
    assert metrics["total_return"] == 0.0


def trade(pnl: float, size: float = 1.0, entry: float = 100.0) -> Trade:
    return Trade(
        entry_time=T0,
        exit_time=T0 + HOUR,
        entry_index=0,
        exit_index=1,
        side=PositionSide.LONG,
        size=size,
        entry_price=entry,
        exit_price=entry + pnl / size,
        pnl=pnl,
        fees=0.0,
        exit_reason=ExitReason.SIGNAL,
    )


def test_trade_statistics() -> None:
    # pnl 10, -5, 20, -5: win rate 2 / 4; profit factor 30 / 10 = 3; expectancy 20 / 4 = 5;
    # average trade: mean(10 %, -5 %, 10 %, -2.5 %) = 3.125 % (notionals 100, 100, 200, 200).
    trades = (trade(10.0), trade(-5.0), trade(20.0, 2.0), trade(-5.0, 2.0))
    metrics = metrics_of([100.0, 120.0], trades=trades)
    assert metrics["trades"] == 4
    assert metrics["win_rate"] == 0.5
    assert metrics["profit_factor"] == pytest.approx(3.0)
    assert metrics["expectancy"] == pytest.approx(5.0)
    assert metrics["avg_trade_pct"] == pytest.approx(3.125)
    assert metrics["total_return"] == pytest.approx(0.2)


def test_cagr_too_large_for_a_float_is_none_not_a_crash() -> None:
    # Regression: 100 -> 500 in one hourly bar annualises to 5 ^ 8,766 (> 1e308), which raised
    # OverflowError inside compute_metrics and crashed the whole run.
    metrics = metrics_of([100.0, 500.0], bar_ns=HOUR)
    assert metrics["cagr"] is None
    assert metrics["calmar"] is None
    assert metrics["total_return"] == pytest.approx(4.0)


# PSR of PATH's daily returns +0.1, -0.1, +0.1 (Bailey & Lopez de Prado 2012, eq. 11):
# deviations from the mean 0.0333333: +0.0666667, -0.1333333, +0.0666667
# m2 = 0.0088889, m3 = -0.0005926, m4 = 0.0001185 (central moments over n = 3)
# skewness = m3 / m2^1.5 = -0.7071068; raw kurtosis = m4 / m2^2 = 1.5
# per-day Sharpe = 0.2886751 (mean / std ddof=1, the Sharpe above before x sqrt(365))
# factor = 1 - (-0.7071068)(0.2886751) + (1.5 - 1) / 4 x 0.2886751^2 = 1.2145408
# z = 0.2886751 x sqrt(3 - 1) / sqrt(1.2145408) = 0.3704404; PSR = Phi(z) = 0.6444728
def test_psr_skewness_and_raw_kurtosis_of_the_daily_returns() -> None:
    metrics = metrics_of(PATH)
    assert metrics["skewness"] == pytest.approx(-0.7071068, rel=1e-6)
    assert metrics["kurtosis"] == pytest.approx(1.5, rel=1e-12)
    assert metrics["psr"] == pytest.approx(0.6444728, rel=1e-6)


def test_psr_is_none_when_the_sharpe_is() -> None:
    flat = metrics_of([100.0] * 5)
    assert (flat["psr"], flat["skewness"], flat["kurtosis"]) == (None, None, None)
    one_day = metrics_of([100.0, 110.0], bar_ns=HOUR)  # one UTC day: no daily return
    assert (one_day["psr"], one_day["skewness"], one_day["kurtosis"]) == (None, None, None)


def test_psr_measures_the_excess_return_over_the_risk_free_rate() -> None:
    # The risk-free rate lowers the per-day Sharpe, so the PSR; moments do not move.
    plain, taxed = metrics_of(PATH), metrics_of(PATH, risk_free_rate=3.65)
    assert taxed["skewness"] == pytest.approx(plain["skewness"])
    assert isinstance(taxed["psr"], float) and isinstance(plain["psr"], float)
    assert taxed["psr"] < plain["psr"]
