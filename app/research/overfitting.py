"""How much of a backtest's Sharpe ratio is luck: the Probabilistic and Deflated Sharpe Ratios,
the expected maximum Sharpe under the null, the minimum track record length, and the
Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

Units. Every Sharpe ratio passed to or returned by the functions here is *per period* (per
day for daily returns), not annualised, because the formulas hold per period; a variance of
Sharpe ratios is in per-period units squared. `sweep_statistics` alone annualises what it
reports (x sqrt(D), and x D for a variance) and says so in its document. Sharpe is mean /
sample std (ddof=1), kurtosis is raw (3 for a normal distribution): see
`app.engine.sharpe_statistics`.

Sources, formula by formula:
- PSR: Bailey & Lopez de Prado, "The Sharpe Ratio Efficient Frontier", J. of Risk 15(2),
  2012, eq. (11): PSR(SR*) = Phi((SR - SR*) sqrt(n - 1) / sqrt(1 - g3 SR + (g4 - 1)/4 SR^2)).
- minTRL: same paper, eq. (12): 1 + (1 - g3 SR + (g4 - 1)/4 SR^2) (Z_p / (SR - SR*))^2.
- Expected maximum Sharpe of N unskilled trials and DSR: Bailey & Lopez de Prado, "The
  Deflated Sharpe Ratio", J. of Portfolio Management 40(5), 2014, eq. (2)-(3):
  SR0 = sqrt(V) ((1 - gamma) Z^-1(1 - 1/N) + gamma Z^-1(1 - 1/(N e))), gamma the
  Euler-Mascheroni constant, V the variance of the trials' Sharpe ratios; DSR = PSR(SR0).
- PBO: Bailey, Borwein, Lopez de Prado & Zhu, "The Probability of Backtest Overfitting",
  J. of Computational Finance 20(4), 2017 (SSRN 2326253, 2015), section 2.2: split the
  periods x trials matrix into S row blocks, and for each of the C(S, S/2) ways to pick half
  of them as in-sample, take the best in-sample trial n*, its relative rank w in the
  out-of-sample half (rank / (N + 1)), its logit l = ln(w / (1 - w)); PBO = share of l <= 0.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from app.engine.feed import FloatArray
from app.engine.sharpe_statistics import (
    per_period_sharpe,
    probabilistic_sharpe_ratio,
    return_moments,
    sharpe_variance_factor,
)
from app.research.errors import ResearchInputError

EULER_MASCHERONI: Final = 0.5772156649015329
DEFAULT_PARTITIONS: Final = 16
MAX_PARTITIONS: Final = 20
"""C(20, 10) = 184,756 splits; more would take minutes for a large sweep."""
MIN_TRACK_RECORD_CONFIDENCE: Final = 0.95
_CELLS_PER_CHUNK: Final = 2_000_000  # splits x trials evaluated at once (memory bound)


def _normal_quantile(p: float) -> float:
    from scipy.stats import norm  # imported when used: scipy is heavy

    return float(norm.ppf(p))


def _returns(returns: FloatArray, field: str = "returns") -> FloatArray:
    array = np.asarray(returns, dtype=np.float64)
    if array.ndim != 1:
        raise ResearchInputError(field, f"expected one series of returns, got {array.ndim}-D")
    if not np.all(np.isfinite(array)):
        raise ResearchInputError(field, "holds NaN or infinite values; pass finite returns")
    return array


def _sharpe_and_moments(returns: FloatArray, field: str) -> tuple[float, float, float]:
    sharpe = per_period_sharpe(returns)
    moments = return_moments(returns)
    if sharpe is None or moments is None:
        raise ResearchInputError(
            field, f"needs at least 2 returns that are not all equal, got {len(returns)}"
        )
    return sharpe, moments[0], moments[1]


def probabilistic_sharpe(returns: FloatArray, benchmark_sharpe: float = 0.0) -> float:
    """P(the true per-period Sharpe of `returns` exceeds `benchmark_sharpe`, per period),
    given their length, skewness and raw kurtosis (Bailey & Lopez de Prado 2012)."""
    series = _returns(returns)
    sharpe, skewness, kurtosis = _sharpe_and_moments(series, "returns")
    value = probabilistic_sharpe_ratio(sharpe, len(series), skewness, kurtosis, benchmark_sharpe)
    if value is None:
        raise ResearchInputError("returns", "their moments leave the Sharpe's error undefined")
    return value


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Expected maximum of `n_trials` Sharpe ratios whose true value is 0 and whose estimates
    vary with `sharpe_variance` (Bailey & Lopez de Prado 2014); units follow the variance's
    (per period for a per-period variance). One trial: 0, its expected value."""
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ResearchInputError("n_trials", f"must be a whole number >= 1, got {n_trials!r}")
    if not math.isfinite(sharpe_variance) or sharpe_variance < 0:
        raise ResearchInputError(
            "sharpe_variance", f"must be a finite number >= 0, got {sharpe_variance!r}"
        )
    if n_trials == 1:
        return 0.0
    gamma = EULER_MASCHERONI
    spread = (1 - gamma) * _normal_quantile(1 - 1 / n_trials) + gamma * _normal_quantile(
        1 - 1 / (n_trials * math.e)
    )
    return math.sqrt(sharpe_variance) * spread


def deflated_sharpe(returns: FloatArray, *, n_trials: int, sharpe_variance: float) -> float:
    """PSR of `returns` against the Sharpe the best of `n_trials` unskilled trials reaches by
    luck (`expected_max_sharpe`); `sharpe_variance` is the variance of the trials' per-period
    Sharpe ratios (Bailey & Lopez de Prado 2014)."""
    return probabilistic_sharpe(returns, expected_max_sharpe(n_trials, sharpe_variance))


def min_track_record_length(
    returns: FloatArray, benchmark_sharpe: float, confidence: float
) -> float:
    """Number of returns needed to say, at `confidence`, that the true Sharpe exceeds
    `benchmark_sharpe` (per period), if later returns keep these moments (Bailey & Lopez de
    Prado 2012). Infinite when the observed Sharpe is not above the benchmark."""
    if not 0.0 < confidence < 1.0:
        raise ResearchInputError("confidence", f"must be between 0 and 1, got {confidence!r}")
    series = _returns(returns)
    sharpe, skewness, kurtosis = _sharpe_and_moments(series, "returns")
    if sharpe <= benchmark_sharpe:
        return math.inf
    factor = sharpe_variance_factor(sharpe, skewness, kurtosis)
    return 1.0 + factor * (_normal_quantile(confidence) / (sharpe - benchmark_sharpe)) ** 2


@dataclass(frozen=True, slots=True)
class CscvResult:
    """PBO and the logits it counts: one per split (`splits` = C(S, S/2)); a logit <= 0 means
    the best in-sample trial ranked at or below the median out of sample. `periods_used` is the
    number of rows kept (the oldest T mod S rows are dropped so the blocks are equal)."""

    pbo: float
    logits: FloatArray
    splits: int
    periods_used: int


def _matrix(matrix: FloatArray, partitions: int) -> FloatArray:
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim != 2:
        raise ResearchInputError("matrix", f"must be periods x trials (2-D), got {array.ndim}-D")
    if not np.all(np.isfinite(array)):
        raise ResearchInputError("matrix", "holds NaN or infinite returns; pass finite returns")
    if isinstance(partitions, bool) or not isinstance(partitions, int):
        raise ResearchInputError("partitions", f"must be a whole number, got {partitions!r}")
    if partitions < 2 or partitions % 2 or partitions > MAX_PARTITIONS:
        raise ResearchInputError(
            "partitions", f"must be even, from 2 to {MAX_PARTITIONS}, got {partitions}"
        )
    periods, trials = array.shape
    if trials < 2:
        raise ResearchInputError("matrix", f"PBO compares trials: needs at least 2, got {trials}")
    if periods // partitions < 2:
        raise ResearchInputError(
            "partitions",
            f"{partitions} partitions need at least {2 * partitions} periods, got {periods}; "
            "use fewer partitions or a longer period",
        )
    return array


def _half_sharpes(sums: FloatArray, squares: FloatArray, count: int) -> FloatArray:
    """Per-period Sharpe (ddof=1) from sums and sums of squares over `count` rows; 0 for no
    return and no variation, +-inf for a return with no variation."""
    mean = sums / count
    variance = np.maximum((squares - sums * mean) / (count - 1), 0.0)
    std = np.sqrt(variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(std > 0, mean / std, np.sign(mean) * np.inf)
    return np.where(np.isnan(sharpe), 0.0, sharpe)


def cscv(matrix: FloatArray, partitions: int = DEFAULT_PARTITIONS) -> CscvResult:
    """Combinatorially symmetric cross-validation of a periods x trials return matrix with
    `partitions` (S, even) row blocks, ranking trials by per-period Sharpe (Bailey, Borwein,
    Lopez de Prado & Zhu 2015). Ties in the out-of-sample ranking take the average rank;
    ties in-sample pick the first trial."""
    array = _matrix(matrix, partitions)
    block = array.shape[0] // partitions
    kept = array[array.shape[0] - block * partitions :]
    blocks = kept.reshape(partitions, block, kept.shape[1])
    sums, squares = blocks.sum(axis=1), (blocks**2).sum(axis=1)  # S x N each
    total_sums, total_squares = sums.sum(axis=0), squares.sum(axis=0)
    chosen = np.zeros((math.comb(partitions, partitions // 2), partitions))
    for row, combination in enumerate(itertools.combinations(range(partitions), partitions // 2)):
        chosen[row, list(combination)] = 1.0
    half = block * partitions // 2
    trials = kept.shape[1]
    logits = np.empty(len(chosen))
    step = max(1, _CELLS_PER_CHUNK // trials)
    for start in range(0, len(chosen), step):
        picks = chosen[start : start + step]
        train_sums, train_squares = picks @ sums, picks @ squares
        train = _half_sharpes(train_sums, train_squares, half)
        test = _half_sharpes(total_sums - train_sums, total_squares - train_squares, half)
        best = np.argmax(train, axis=1)
        best_test = test[np.arange(len(picks)), best][:, None]
        rank = (test < best_test).sum(axis=1) + ((test == best_test).sum(axis=1) + 1) / 2
        relative = rank / (trials + 1)
        logits[start : start + len(picks)] = np.log(relative / (1 - relative))
    return CscvResult(
        pbo=float(np.mean(logits <= 0)),
        logits=logits,
        splits=len(chosen),
        periods_used=len(kept),
    )


def pbo_cscv(matrix: FloatArray, partitions: int = DEFAULT_PARTITIONS) -> float:
    """Probability of Backtest Overfitting of a periods x trials return matrix by CSCV with
    `partitions` row blocks: the share of splits whose best in-sample trial ranks at or below
    the out-of-sample median. Near 0: the selection holds up; near 0.5 or above: luck."""
    return cscv(matrix, partitions).pbo


def _trial_sharpes(matrix: FloatArray) -> FloatArray:
    """Per-period Sharpe of each column (ddof=1); NaN where it is undefined."""
    if matrix.shape[0] < 2:
        return np.full(matrix.shape[1], np.nan)
    std = np.std(matrix, axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.mean(matrix, axis=0) / std
    return np.where(std > 0, sharpe, np.nan)


def sweep_statistics(
    daily_returns: FloatArray,
    best_index: int,
    *,
    partitions: int = DEFAULT_PARTITIONS,
    days_per_year: int = 365,
    n_trials: int | None = None,
) -> dict[str, Any]:
    """The overfitting statistics of a sweep for best.json, from its days x trials matrix of
    daily returns (one column per feasible trial) and the column of the chosen trial.

    `n_trials` defaults to the number of columns (pass more if infeasible trials were tried
    too). Sharpe figures in the result are annualised (x sqrt(days_per_year)), the variance
    x days_per_year; a figure that cannot be computed (one trial, too few days) is None and
    the `meaning` sentence says why.
    """
    matrix = np.asarray(daily_returns, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] == 0:
        raise ResearchInputError("daily_returns", "must be days x trials with at least 1 trial")
    if not np.all(np.isfinite(matrix)):
        raise ResearchInputError("daily_returns", "holds NaN or infinite returns")
    if not 0 <= best_index < matrix.shape[1]:
        raise ResearchInputError(
            "best_index", f"must name one of the {matrix.shape[1]} trials, got {best_index}"
        )
    trials = matrix.shape[1] if n_trials is None else n_trials
    if trials < matrix.shape[1]:
        raise ResearchInputError(
            "n_trials", f"{trials} is fewer than the {matrix.shape[1]} trials given"
        )
    annual = math.sqrt(days_per_year)
    sharpes = _trial_sharpes(matrix)
    defined = sharpes[np.isfinite(sharpes)]
    variance = float(np.var(defined, ddof=1)) if len(defined) >= 2 else 0.0
    max_sharpe = expected_max_sharpe(trials, variance)
    best = matrix[:, best_index]
    best_sharpe = float(sharpes[best_index]) if math.isfinite(sharpes[best_index]) else None
    dsr = psr = None
    if best_sharpe is not None:
        dsr = deflated_sharpe(best, n_trials=trials, sharpe_variance=variance)
        psr = probabilistic_sharpe(best)
    try:
        split = cscv(matrix, partitions)
    except ResearchInputError as error:
        split, pbo_note = None, error.message
    else:
        pbo_note = ""
    statistics: dict[str, Any] = {
        "dsr": dsr,
        "psr": psr,
        "n_trials": trials,
        "best_sharpe": best_sharpe * annual if best_sharpe is not None else None,
        "sharpe_variance": variance * days_per_year,
        "expected_max_sharpe": max_sharpe * annual,
        "pbo": split.pbo if split is not None else None,
        "pbo_splits": split.splits if split is not None else 0,
        "partitions": partitions,
        "days": matrix.shape[0],
        "annualisation_days": days_per_year,
        "units": "Sharpe figures annualised: per-day value x sqrt(annualisation_days); "
        "sharpe_variance: per-day variance x annualisation_days",
    }
    statistics["meaning"] = _meaning(statistics, pbo_note)
    return statistics


def _meaning(statistics: dict[str, Any], pbo_note: str) -> str:
    """One plain sentence on what DSR and PBO say about the best trial."""
    trials, sharpe, dsr = statistics["n_trials"], statistics["best_sharpe"], statistics["dsr"]
    if dsr is None or sharpe is None:
        luck = (
            f"with {trials:,} trials, the best trial has no Sharpe ratio (fewer than 2 days, "
            "or returns that never vary), so no DSR"
        )
    else:
        luck = (
            f"with {trials:,} trials, a Sharpe of {sharpe:.2f} is what luck alone gives "
            f"{(1 - dsr) * 100:.0f} % of the time"
        )
    pbo = statistics["pbo"]
    if pbo is None:
        tail = f"no PBO ({pbo_note.rstrip('.')})"
    else:
        tail = (
            f"the best in-sample trial ranked at or below the median out of sample in "
            f"{pbo * 100:.0f} % of {statistics['pbo_splits']:,} splits (PBO)"
        )
    return f"{luck[0].upper()}{luck[1:]}; {tail}."
