"""The sampling distribution of a Sharpe ratio: return moments and the Probabilistic Sharpe
Ratio (Bailey & Lopez de Prado 2012), pure functions of per-period figures.

Conventions. Every Sharpe ratio here is *per period* (per day for daily returns), never
annualised: the annualised figure is the per-period one x sqrt(D), and the formulas below only
hold per period. The Sharpe ratio is mean / sample std (ddof=1), the engine's convention.
Skewness and kurtosis are the moments of the observed returns (population, i.e. biased,
estimators: m3 / m2^1.5 and m4 / m2^2 with m_k the k-th central moment over n); kurtosis is
RAW kurtosis, 3 for a normal distribution (not the excess kurtosis, which is 0 for it).

Source: D. H. Bailey, M. Lopez de Prado, "The Sharpe Ratio Efficient Frontier", Journal of
Risk 15(2), 2012, eq. (9)-(11): the standard error of an estimated Sharpe ratio SR over n
observations is sqrt((1 - g3 SR + (g4 - 1) / 4 SR^2) / (n - 1)), and

    PSR(SR*) = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1) / 4 SR^2)).
"""

from __future__ import annotations

import math

import numpy as np

from app.engine.feed import FloatArray


def normal_cdf(z: float) -> float:
    """Phi(z), the standard normal cumulative distribution (exact to double precision)."""
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def per_period_sharpe(returns: FloatArray) -> float | None:
    """mean / sample std (ddof=1) of `returns`, not annualised; None with fewer than two
    returns or no variation."""
    if len(returns) < 2:
        return None
    std = float(np.std(returns, ddof=1))
    if std == 0.0 or not math.isfinite(std):
        return None
    value = float(np.mean(returns)) / std
    return value if math.isfinite(value) else None


def return_moments(returns: FloatArray) -> tuple[float, float] | None:
    """(skewness, raw kurtosis) of `returns` from their central moments over n (a normal
    sample gives about (0, 3)); None with fewer than two returns or no variation."""
    if len(returns) < 2:
        return None
    with np.errstate(all="ignore"):
        deviations = returns - np.mean(returns)
        m2 = float(np.mean(deviations**2))
        if m2 == 0.0 or not math.isfinite(m2):
            return None
        skewness = float(np.mean(deviations**3)) / m2**1.5
        kurtosis = float(np.mean(deviations**4)) / m2**2
    if not (math.isfinite(skewness) and math.isfinite(kurtosis)):
        return None
    return skewness, kurtosis


def sharpe_variance_factor(sharpe: float, skewness: float, kurtosis: float) -> float:
    """1 - g3 SR + (g4 - 1) / 4 SR^2: (n - 1) x the variance of an estimated per-period
    Sharpe ratio (Bailey & Lopez de Prado 2012, eq. 9). For any sample's own moments it is
    >= (g3 SR / 2 - 1)^2 >= 0, since a sample's raw kurtosis is >= its skewness^2 + 1."""
    return 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2


def probabilistic_sharpe_ratio(
    sharpe: float,
    observations: int,
    skewness: float,
    kurtosis: float,
    benchmark_sharpe: float = 0.0,
) -> float | None:
    """P(true Sharpe > `benchmark_sharpe`) given the estimate `sharpe` from `observations`
    returns with that skewness and raw kurtosis; both Sharpe ratios per period. None when
    undefined (fewer than two observations, a zero or negative variance factor)."""
    factor = sharpe_variance_factor(sharpe, skewness, kurtosis)
    if observations < 2 or not factor > 0.0 or not math.isfinite(factor):
        return None
    z = (sharpe - benchmark_sharpe) * math.sqrt(observations - 1) / math.sqrt(factor)
    return normal_cdf(z) if math.isfinite(z) else None
