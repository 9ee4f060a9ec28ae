"""PSR, DSR, expected maximum Sharpe, minimum track record length and PBO (CSCV): the papers'
worked numbers, the formulas against an independent computation, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from app.engine.feed import FloatArray
from app.engine.sharpe_statistics import probabilistic_sharpe_ratio, return_moments
from app.research.errors import ResearchInputError
from app.research.overfitting import (
    cscv,
    deflated_sharpe,
    expected_max_sharpe,
    min_track_record_length,
    pbo_cscv,
    probabilistic_sharpe,
    sweep_statistics,
)

# Bailey & Lopez de Prado, "The Deflated Sharpe Ratio" (J. Portfolio Management, 2014),
# section 5's numerical example: a strategy's annualised Sharpe 2.5 over T = 1,250 daily
# observations, chosen among N = 100 trials whose annualised Sharpe ratios have variance 0.5;
# its returns have skewness -3 and (raw) kurtosis 10; 250 observations a year.
# SR0 (annualised) = sqrt(0.5) x ((1 - 0.5772157) Phi^-1(1 - 1/100)
#                                  + 0.5772157 Phi^-1(1 - 1/(100 e)))
#                  = 0.7071068 x (0.4227843 x 2.3263479 + 0.5772157 x 2.6785472) = 1.7894065
# per day: 1.7894065 / sqrt(250) = 0.1131720 (the paper: 0.1132)
# per-day SR = 2.5 / sqrt(250) = 0.1581139
# DSR = Phi((0.1581139 - 0.1131720) sqrt(1249)
#           / sqrt(1 + 3 x 0.1581139 + (10 - 1) / 4 x 0.1581139^2)) = Phi(1.2825) = 0.9004
DAYS_A_YEAR_IN_PAPER = 250


def test_expected_max_sharpe_of_the_dsr_paper_example() -> None:
    annual = expected_max_sharpe(100, 0.5)
    assert annual == pytest.approx(1.7894065, rel=1e-6)
    per_day = expected_max_sharpe(100, 0.5 / DAYS_A_YEAR_IN_PAPER)
    assert per_day == pytest.approx(0.1132, abs=5e-5)
    assert per_day == pytest.approx(annual / math.sqrt(DAYS_A_YEAR_IN_PAPER), rel=1e-12)


def test_deflated_sharpe_of_the_dsr_paper_example() -> None:
    sr0 = expected_max_sharpe(100, 0.5 / DAYS_A_YEAR_IN_PAPER)
    sharpe = 2.5 / math.sqrt(DAYS_A_YEAR_IN_PAPER)
    dsr = probabilistic_sharpe_ratio(sharpe, 1250, -3.0, 10.0, sr0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_expected_max_sharpe_grows_with_trials_and_scales_with_the_spread() -> None:
    assert expected_max_sharpe(1, 0.7) == 0.0  # one trial: its expected value, 0
    values = [expected_max_sharpe(n, 1.0) for n in (2, 10, 100, 1000, 10_000)]
    assert values == sorted(values)
    assert expected_max_sharpe(50, 4.0) == pytest.approx(2 * expected_max_sharpe(50, 1.0))


def test_expected_max_sharpe_is_close_to_the_simulated_maximum_of_normals() -> None:
    # E[max of N standard normals] for N = 100 is 2.5076 (order statistics tables); the
    # Gumbel approximation of the paper gives 2.5306, within 1 %.
    rng = np.random.default_rng(0)
    simulated = float(np.mean(rng.standard_normal((20_000, 100)).max(axis=1)))
    assert simulated == pytest.approx(2.5076, abs=0.01)
    assert expected_max_sharpe(100, 1.0) == pytest.approx(simulated, rel=0.015)


def _skewed_returns(n: int, seed: int = 5) -> FloatArray:
    rng = np.random.default_rng(seed)
    crashes = rng.random(n) < 0.03
    return np.where(crashes, rng.normal(-0.04, 0.02, n), rng.normal(0.002, 0.008, n))


def test_psr_matches_the_formula_with_scipy_moments_and_raw_kurtosis() -> None:
    returns = _skewed_returns(500)
    sharpe = returns.mean() / returns.std(ddof=1)
    skew = stats.skew(returns)
    raw_kurtosis = stats.kurtosis(returns, fisher=False)  # 3 for a normal distribution
    assert raw_kurtosis > 6  # fat-tailed: excess vs raw kurtosis matters here
    factor = 1 - skew * sharpe + (raw_kurtosis - 1) / 4 * sharpe**2
    expected = stats.norm.cdf((sharpe - 0.01) * math.sqrt(len(returns) - 1) / math.sqrt(factor))
    assert probabilistic_sharpe(returns, 0.01) == pytest.approx(expected, rel=1e-12)
    excess = stats.kurtosis(returns, fisher=True)
    wrong = 1 - skew * sharpe + (excess - 1) / 4 * sharpe**2  # QuantStats' mistake
    assert not math.isclose(
        probabilistic_sharpe(returns, 0.01),
        stats.norm.cdf((sharpe - 0.01) * math.sqrt(len(returns) - 1) / math.sqrt(wrong)),
        rel_tol=1e-6,
    )


def test_moments_are_raw_and_of_the_sample() -> None:
    returns = _skewed_returns(400, seed=9)
    moments = return_moments(returns)
    assert moments is not None
    assert moments[0] == pytest.approx(stats.skew(returns), rel=1e-12)
    assert moments[1] == pytest.approx(stats.kurtosis(returns, fisher=False), rel=1e-12)


def test_psr_of_normal_returns_is_half_at_their_own_sharpe_and_grows_with_length() -> None:
    returns = np.random.default_rng(2).normal(0.001, 0.01, 1000)
    own = returns.mean() / returns.std(ddof=1)
    assert probabilistic_sharpe(returns, own) == pytest.approx(0.5, abs=1e-12)
    short = probabilistic_sharpe(returns[:100], 0.0)
    long = probabilistic_sharpe(np.tile(returns[:100], 10), 0.0)  # same moments, 10x as long
    assert long > short


def test_deflated_sharpe_is_psr_against_the_expected_maximum() -> None:
    returns = _skewed_returns(800)
    dsr = deflated_sharpe(returns, n_trials=200, sharpe_variance=0.002)
    assert dsr == pytest.approx(probabilistic_sharpe(returns, expected_max_sharpe(200, 0.002)))
    assert dsr < probabilistic_sharpe(returns)  # more trials: less of the Sharpe is skill


def test_min_track_record_length_is_where_psr_reaches_the_confidence() -> None:
    returns = _skewed_returns(600)
    sharpe = returns.mean() / returns.std(ddof=1)
    moments = return_moments(returns)
    assert moments is not None and sharpe > 0.02
    length = min_track_record_length(returns, 0.02, 0.95)
    factor = 1 - moments[0] * sharpe + (moments[1] - 1) / 4 * sharpe**2
    z = (sharpe - 0.02) * math.sqrt(length - 1) / math.sqrt(factor)
    assert stats.norm.cdf(z) == pytest.approx(0.95, rel=1e-12)


def test_min_track_record_length_of_normal_returns_has_the_closed_form() -> None:
    # Normal moments (0, 3): minTRL = 1 + (1 + SR^2 / 2) (1.6448536 / SR)^2 against SR* = 0.
    returns = np.random.default_rng(4).normal(0.002, 0.01, 100_000)
    sharpe = returns.mean() / returns.std(ddof=1)
    expected = 1 + (1 + sharpe**2 / 2) * (1.6448536 / sharpe) ** 2
    assert min_track_record_length(returns, 0.0, 0.95) == pytest.approx(expected, rel=0.01)


def test_min_track_record_length_is_infinite_without_an_edge_over_the_benchmark() -> None:
    returns = np.random.default_rng(1).normal(-0.001, 0.01, 300)
    assert min_track_record_length(returns, 0.0, 0.95) == math.inf


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: probabilistic_sharpe(np.array([0.01])), "returns"),
        (lambda: probabilistic_sharpe(np.array([0.01, 0.01, 0.01])), "returns"),
        (lambda: probabilistic_sharpe(np.array([0.01, math.nan])), "returns"),
        (lambda: expected_max_sharpe(0, 1.0), "n_trials"),
        (lambda: expected_max_sharpe(10, -1.0), "sharpe_variance"),
        (lambda: min_track_record_length(np.array([0.1, 0.2, 0.0]), 0.0, 1.5), "confidence"),
    ],
)
def test_unusable_inputs_name_their_field(call: object, field: str) -> None:
    with pytest.raises(ResearchInputError) as caught:
        call()  # type: ignore[operator]
    assert caught.value.field == field


def test_pbo_of_pure_noise_trials_is_about_one_half_on_average() -> None:
    rng = np.random.default_rng(11)
    values = [pbo_cscv(rng.normal(0, 0.01, (240, 30)), partitions=8) for _ in range(30)]
    assert 0.4 < float(np.mean(values)) < 0.6


def test_pbo_of_a_dominant_trial_is_near_zero() -> None:
    rng = np.random.default_rng(12)
    matrix = rng.normal(0, 0.01, (480, 40))
    matrix[:, 17] += 0.01  # one trial with a real edge, every day
    result = cscv(matrix, partitions=16)
    assert result.pbo < 0.02
    assert result.splits == math.comb(16, 8) == 12_870


def test_pbo_of_selection_that_reverses_out_of_sample_is_near_one() -> None:
    # Trial 0 is the best in the first half of time and the worst in the second, trial 1 the
    # reverse: each split's in-sample winner is the other half's loser.
    rng = np.random.default_rng(13)
    matrix = rng.normal(0, 0.001, (320, 10))
    matrix[:160, 0] += 0.01
    matrix[160:, 0] -= 0.01
    matrix[:160, 1] -= 0.01
    matrix[160:, 1] += 0.01
    assert pbo_cscv(matrix, partitions=2) == 1.0


def test_cscv_drops_the_oldest_rows_to_make_equal_blocks() -> None:
    rng = np.random.default_rng(14)
    matrix = rng.normal(0, 0.01, (103, 5))
    result = cscv(matrix, partitions=10)
    assert result.periods_used == 100
    assert result.pbo == cscv(matrix[3:], partitions=10).pbo


@pytest.mark.parametrize(
    ("shape", "partitions", "field"),
    [
        ((100, 5), 7, "partitions"),  # odd
        ((100, 5), 0, "partitions"),
        ((100, 5), 22, "partitions"),  # over the maximum
        ((20, 5), 16, "partitions"),  # too few periods for 16 blocks of 2
        ((100, 1), 4, "matrix"),  # one trial: nothing to compare
    ],
)
def test_cscv_refuses_unusable_partitions_and_matrices(
    shape: tuple[int, int], partitions: int, field: str
) -> None:
    with pytest.raises(ResearchInputError) as caught:
        pbo_cscv(np.zeros(shape) + np.arange(shape[0])[:, None] * 1e-4, partitions)
    assert caught.value.field == field


def test_sweep_statistics_hold_the_best_json_keys_with_one_plain_sentence() -> None:
    rng = np.random.default_rng(21)
    matrix = rng.normal(0.0003, 0.01, (365, 50))
    best = int(np.argmax(matrix.mean(axis=0) / matrix.std(axis=0, ddof=1)))
    result = sweep_statistics(matrix, best)
    assert {"dsr", "n_trials", "sharpe_variance", "expected_max_sharpe", "pbo", "meaning"} <= set(
        result
    )
    assert result["n_trials"] == 50
    sharpes = matrix.mean(axis=0) / matrix.std(axis=0, ddof=1)
    assert result["sharpe_variance"] == pytest.approx(np.var(sharpes, ddof=1) * 365)
    assert result["expected_max_sharpe"] == pytest.approx(
        expected_max_sharpe(50, float(np.var(sharpes, ddof=1))) * math.sqrt(365)
    )
    assert result["dsr"] == pytest.approx(
        deflated_sharpe(
            matrix[:, best], n_trials=50, sharpe_variance=float(np.var(sharpes, ddof=1))
        )
    )
    assert result["pbo"] == pytest.approx(pbo_cscv(matrix, 16))
    luck = round((1 - result["dsr"]) * 100)
    assert result["meaning"].startswith(
        f"With 50 trials, a Sharpe of {result['best_sharpe']:.2f} is what luck alone gives "
        f"{luck} % of the time; "
    )
    assert result["meaning"].count(".") <= 3  # one sentence (the decimals have points)


def test_sweep_statistics_of_one_trial_say_why_there_is_no_pbo() -> None:
    matrix = np.random.default_rng(22).normal(0.001, 0.01, (200, 1))
    result = sweep_statistics(matrix, 0, n_trials=1)
    assert result["pbo"] is None
    assert result["expected_max_sharpe"] == 0.0
    assert result["dsr"] == pytest.approx(probabilistic_sharpe(matrix[:, 0]))
    assert "no PBO (PBO compares trials: needs at least 2, got 1)" in result["meaning"]


def test_sweep_statistics_count_trials_that_were_tried_but_not_kept() -> None:
    matrix = np.random.default_rng(23).normal(0.001, 0.01, (200, 10))
    fewer, more = sweep_statistics(matrix, 0), sweep_statistics(matrix, 0, n_trials=400)
    assert more["n_trials"] == 400 and more["expected_max_sharpe"] > fewer["expected_max_sharpe"]
    assert more["dsr"] < fewer["dsr"]
    with pytest.raises(ResearchInputError):
        sweep_statistics(matrix, 0, n_trials=5)
    with pytest.raises(ResearchInputError):
        sweep_statistics(matrix, 10)


def test_sweep_statistics_of_a_single_day_are_undefined_with_a_reason() -> None:
    result = sweep_statistics(np.full((1, 3), 0.01), 0)
    assert (result["dsr"], result["best_sharpe"], result["pbo"]) == (None, None, None)
    assert result["meaning"].startswith("With 3 trials, the best trial has no Sharpe ratio")
