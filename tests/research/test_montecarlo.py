"""Monte Carlo of a run: per-trade returns on compounding equity, the three methods, ruin,
intervals, fan chart, seeded byte-identical documents and the refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.engine.metrics import NS_PER_DAY, compute_metrics, drawdown
from app.research.errors import ResearchInputError
from app.research.montecarlo import (
    MonteCarloSpec,
    RunSample,
    parse_levels,
    sample_from_folder,
    simulate,
    trade_returns,
)
from app.research.montecarlo_document import dumps_document, montecarlo_document, run_montecarlo
from app.research.run_folder import RunFolderError, load_run_folder
from tests.research.run_folders import T0, random_walk, write_folder


def sample_of(returns: list[float], *, days: int = 10, initial: float = 100.0) -> RunSample:
    """A run whose trades close one after another, one a day from day 1, over `days` days."""
    exits = T0 + NS_PER_DAY * np.arange(1, len(returns) + 1, dtype=np.int64)
    return RunSample(
        initial_equity=initial,
        start_time=T0,
        end_time=T0 + days * NS_PER_DAY,
        trade_returns=np.asarray(returns, dtype=np.float64),
        trade_exit_times=exits,
        trades_ignored=0,
        day_end_times=T0 + NS_PER_DAY * np.arange(days, dtype=np.int64) + NS_PER_DAY - 1,
        daily_returns=np.zeros(days - 1),
        days_per_year=365,
        risk_free_rate=0.0,
    )


def test_trade_returns_are_pnl_over_closed_trade_equity_before_each_trade() -> None:
    # Closed-trade equity: 100 -> 110 -> 99 -> 119; returns 10/100, -11/110, 20/99.
    returns, ignored = trade_returns(100.0, np.array([10.0, -11.0, 20.0]))
    assert returns == pytest.approx([0.1, -0.1, 20 / 99])
    assert ignored == 0
    assert 100.0 * np.prod(1 + returns) == pytest.approx(119.0)


def test_trade_returns_stop_at_minus_100_percent_and_skip_trades_after_ruin() -> None:
    # -150 on 100 is a loss of everything (-100 %), not -150 %; the next trade had nothing.
    returns, ignored = trade_returns(100.0, np.array([-150.0, 10.0]))
    assert returns.tolist() == [-1.0]
    assert ignored == 1


def test_reordered_trades_never_take_the_equity_below_zero() -> None:
    # Dollar PnL +900 then -950 from 100 ends at 50; reordered as dollars it would dip to
    # -850. As returns (+900 %, -95 %) every order stays above 0: 100 -> 5 -> 50.
    returns, _ = trade_returns(100.0, np.array([900.0, -950.0]))
    simulation = simulate(sample_of(list(returns)), MonteCarloSpec("shuffle", simulations=200))
    assert simulation.figures.lowest_equity.min() == pytest.approx(5.0)
    assert simulation.figures.final_equity == pytest.approx(50.0)
    assert simulation.figures.max_drawdown.min() >= -1.0


def test_shuffle_keeps_the_final_equity_and_moves_the_drawdowns() -> None:
    rng = np.random.default_rng(1)
    returns = list(rng.normal(0.002, 0.02, 200))
    simulation = simulate(sample_of(returns, days=220), MonteCarloSpec("shuffle", simulations=500))
    final = simulation.figures.final_equity
    assert np.allclose(final, simulation.observed.final_equity[0], rtol=1e-12)
    assert np.ptp(simulation.figures.max_drawdown) > 0.01


def test_probability_of_ruin_counts_paths_that_touch_the_threshold() -> None:
    # Two trades, -50 % and +100 %: the order (-50 %, +100 %) goes 100 -> 50 -> 100 and touches
    # 0.5 x 100 (ruined: "at or below"); (+100 %, -50 %) goes 100 -> 200 -> 100 and never does.
    sample = sample_of([-0.5, 1.0])
    document = montecarlo_document(
        sample,
        spec := MonteCarloSpec("shuffle", simulations=4000, ruin_threshold=0.5),
        simulate(sample, spec),
    )
    assert document["ruin"]["probability"] == pytest.approx(0.5, abs=0.03)
    assert document["ruin"]["equity"] == 50.0
    lower = MonteCarloSpec("shuffle", simulations=400, ruin_threshold=0.49)
    assert montecarlo_document(sample, lower, simulate(sample, lower))["ruin"]["probability"] == 0


def test_bootstrap_draws_trades_with_replacement() -> None:
    sample = sample_of([0.1, -0.05])
    simulation = simulate(sample, MonteCarloSpec("bootstrap", simulations=2000))
    finals = np.round(simulation.figures.final_equity, 6)
    # Two draws of {+10 %, -5 %}: 121, 104.5 (either order) or 90.25, in 1 : 2 : 1.
    values, counts = np.unique(finals, return_counts=True)
    assert values.tolist() == [90.25, 104.5, 121.0]
    assert counts / counts.sum() == pytest.approx([0.25, 0.5, 0.25], abs=0.04)


def test_figures_of_the_run_itself_follow_the_engine_conventions(tmp_path: Path) -> None:
    equity = random_walk(200)
    folder = write_folder(tmp_path / "run", equity=equity, initial=equity[0])
    document = run_montecarlo(folder, MonteCarloSpec("block", simulations=50, seed=3))
    times = T0 + NS_PER_DAY * np.arange(len(equity), dtype=np.int64)
    values = np.asarray(equity)
    engine = compute_metrics(
        initial=equity[0],
        times=times,
        equity=values,
        exposed=np.zeros(len(equity), dtype=bool),
        trades=(),
        closes=values,
        bar_ns=NS_PER_DAY,
        days_per_year=365,
        risk_free_rate=0.0,
        fees_paid=0.0,
        funding_paid=0.0,
        liquidations=0,
    )
    observed = document["observed"]
    # A block path has one mark per day end, starting from the starting cash: the run's own
    # path is its day-end equity, so Sharpe and drawdown are the engine's on daily bars.
    assert observed["sharpe"] == pytest.approx(engine["sharpe"], rel=1e-9)
    assert observed["max_drawdown"] == pytest.approx(engine["max_drawdown"], rel=1e-9)
    assert observed["max_drawdown"] == pytest.approx(float(drawdown(equity[0], values).min()))
    assert observed["final_equity"] == pytest.approx(equity[-1], rel=1e-9)


def test_longest_drawdown_runs_from_the_peak_to_the_recovery() -> None:
    # Trades close on days 1..4: +10 %, -10 %, -10 %, +30 %: marks 100, 110, 99, 89.1, 115.83
    # at days 0..4; the fall from day 1's peak recovers on day 4: 3 days. Then flat to day 10.
    simulation = simulate(sample_of([0.1, -0.1, -0.1, 0.3]), MonteCarloSpec("shuffle"))
    assert simulation.observed.longest_drawdown_days[0] == pytest.approx(3.0)
    assert simulation.observed.max_drawdown[0] == pytest.approx(89.1 / 110 - 1)
    never_falls = simulate(sample_of([0.1, 0.1]), MonteCarloSpec("shuffle", simulations=10))
    assert never_falls.figures.longest_drawdown_days.tolist() == [0.0] * 10


def test_a_path_that_never_recovers_is_in_drawdown_until_the_run_ends() -> None:
    # Peak 110 on day 1, then down: the run ends on day 10, 9 days after the peak.
    simulation = simulate(sample_of([0.1, -0.2], days=10), MonteCarloSpec("shuffle"))
    assert simulation.observed.longest_drawdown_days[0] == pytest.approx(9.0)


def test_intervals_nest_by_level_and_fan_bands_are_ordered(tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    pnl = list(rng.normal(5, 60, 150))
    folder = write_folder(tmp_path / "run", equity=random_walk(300), pnl=pnl)
    document = run_montecarlo(folder, MonteCarloSpec("bootstrap", simulations=3000))
    for name, figure in document["figures"].items():
        widths = [i["high"] - i["low"] for i in figure["intervals"]]
        assert widths == sorted(widths), name
        assert all(i["low"] <= figure["median"] <= i["high"] for i in figure["intervals"])
        assert sum(figure["histogram"]["counts"]) == 3000 - figure["undefined"]
    fan = document["fan"]
    bands = np.array([band["equity"] for band in fan["percentiles"]])
    assert [band["percentile"] for band in fan["percentiles"]] == [
        0.5,
        2.5,
        5.0,
        50.0,
        95.0,
        97.5,
        99.5,
    ]
    assert np.all(np.diff(bands, axis=0) >= 0)
    assert bands[:, 0] == pytest.approx(10_000.0)  # every path starts at the starting cash
    assert len(fan["time"]) == len(fan["marks"]) == 101


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    folder = write_folder(
        tmp_path / "run", equity=random_walk(120), pnl=list(rng.normal(3, 40, 80))
    )
    for method in ("shuffle", "bootstrap", "block"):
        spec = MonteCarloSpec(method, simulations=300, seed=7)
        first = dumps_document(run_montecarlo(folder, spec))
        assert first == dumps_document(run_montecarlo(folder, spec))
        other = MonteCarloSpec(method, simulations=300, seed=8)
        assert first != dumps_document(run_montecarlo(folder, other))
        json.loads(first)  # strict JSON: no NaN or Infinity


def test_block_length_is_arch_optimal_unless_given(tmp_path: Path) -> None:
    from arch.bootstrap import optimal_block_length

    equity = random_walk(400, seed=4)
    folder = write_folder(tmp_path / "run", equity=equity)
    returns = sample_from_folder(load_run_folder(folder)).daily_returns
    automatic = run_montecarlo(folder, MonteCarloSpec("block", simulations=20))["block"]
    expected = float(optimal_block_length(returns.reshape(-1))["stationary"].iloc[0])
    assert automatic == {"kind": "stationary", "length_days": max(expected, 1.0), "automatic": True}
    circular = run_montecarlo(
        folder, MonteCarloSpec("block", simulations=20, block_kind="circular", block_length=7.4)
    )["block"]
    assert circular == {"kind": "circular", "length_days": 7.0, "automatic": False}


def test_trade_methods_refuse_a_run_without_trades(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "run", equity=random_walk(100))
    with pytest.raises(ResearchInputError) as caught:
        run_montecarlo(folder, MonteCarloSpec("shuffle"))
    assert caught.value.field == "method"
    assert "no closed trades" in caught.value.message and "--method block" in caught.value.message


def test_block_refuses_too_few_days(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "run", equity=random_walk(20), pnl=[5.0, -2.0])
    with pytest.raises(ResearchInputError) as caught:
        run_montecarlo(folder, MonteCarloSpec("block"))
    assert "at least 30 daily returns, the run has 19" in caught.value.message


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"method": "jackknife"}, "method"),
        ({"method": "shuffle", "simulations": 0}, "simulations"),
        ({"method": "shuffle", "simulations": 2.5}, "simulations"),
        ({"method": "shuffle", "seed": -1}, "seed"),
        ({"method": "shuffle", "levels": (0.9, 1.0)}, "levels"),
        ({"method": "shuffle", "levels": ()}, "levels"),
        ({"method": "shuffle", "ruin_threshold": 0.0}, "ruin_threshold"),
        ({"method": "shuffle", "ruin_threshold": 1.5}, "ruin_threshold"),
        ({"method": "block", "block_kind": "moving"}, "block_kind"),
        ({"method": "block", "block_length": 0.5}, "block_length"),
    ],
)
def test_a_spec_refuses_bad_values_before_any_work(
    arguments: dict[str, object], field: str
) -> None:
    with pytest.raises(ResearchInputError) as caught:
        MonteCarloSpec(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_levels_parse_from_text() -> None:
    assert parse_levels("0.99, 0.9,0.95") == (0.9, 0.95, 0.99)
    with pytest.raises(ResearchInputError, match="comma-separated"):
        parse_levels("ninety")
    with pytest.raises(ResearchInputError, match="twice"):
        parse_levels("0.9,0.9")


def test_a_folder_that_is_not_a_run_is_refused_with_its_file_named(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "run", equity=random_walk(40), pnl=[1.0])
    (folder / "trades.csv").write_text("when,what\n1,2\n", encoding="utf-8")
    with pytest.raises(RunFolderError) as caught:
        load_run_folder(folder)
    assert "trades.csv has columns when, what, expected entry_time" in caught.value.message
    (folder / "metrics.json").unlink()
    with pytest.raises(RunFolderError, match=r"metrics\.json is missing"):
        load_run_folder(folder)


def test_a_run_of_one_trade_on_one_day_leaves_the_sharpe_undefined_not_broken() -> None:
    sample = sample_of([0.05], days=1)
    spec = MonteCarloSpec("bootstrap", simulations=100)
    document = montecarlo_document(sample, spec, simulate(sample, spec))
    assert document["figures"]["sharpe"]["undefined"] == 100
    assert document["figures"]["sharpe"]["intervals"] == []
    assert document["figures"]["final_equity"]["median"] == pytest.approx(105.0)
    assert document["observed"]["sharpe"] is None
    json.loads(dumps_document(document))
