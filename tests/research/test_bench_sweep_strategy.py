"""The sweep benchmark's strategy (benchmarks/bench_sweep.py): the SMA crossover with its
`wake_on` declaration is the plain one plus that line, trades exactly as the plain one through
the sandbox's compiler, and as the backtesting.py strategy it is timed against; the sampled
sub-grids are parts of the 1,000-trial grid."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from app.engine import MarketData, RunConfig, run_backtest
from sandbox.compile import compile_strategy

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _benchmark(name: str) -> Any:
    """A benchmark script as a module (it puts the repository and benchmarks/ on the path)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # backtesting.py's optimize pickles the peer class by module
    spec.loader.exec_module(module)
    return module


bench_sweep = _benchmark("bench_sweep")
SMA_SOURCE: str = bench_sweep.SMA_SOURCE  # the plain strategy of bench_sma_crossover
make_bars = bench_sweep.make_bars

WAKE_LINE = '        self.wake_on("cross", self.fast, self.slow)\n'


def test_the_declared_strategy_is_the_plain_one_plus_its_declaration() -> None:
    declared = bench_sweep.SWEEP_SOURCE
    assert WAKE_LINE in declared
    assert declared.replace(WAKE_LINE, "").strip() == SMA_SOURCE.strip()


@pytest.fixture(scope="module")
def minutes() -> pd.DataFrame:
    frame: pd.DataFrame = make_bars(6_000, seed=7)
    return frame


@pytest.mark.parametrize(("fast", "slow"), [(5, 30), (12, 95), (24, 275)])
def test_the_declared_strategy_trades_as_the_plain_one_and_as_backtesting_py(
    minutes: pd.DataFrame, fast: int, slow: int
) -> None:
    market = MarketData.from_frame(minutes)
    config = dataclasses.replace(
        RunConfig(**bench_sweep.OPTIONS), params=(("fast", fast), ("slow", slow))
    )
    results = [
        run_backtest(compile_strategy(source).strategy_class, market, config)
        for source in (bench_sweep.SWEEP_SOURCE, SMA_SOURCE)
    ]
    assert results[0].trades == results[1].trades
    assert results[0].metrics == results[1].metrics
    assert len(results[0].trades) > 10

    from backtesting import Backtest

    data = minutes.rename(columns=str.capitalize)
    data.index = pd.DatetimeIndex(data.index).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backtest = Backtest(
            data, bench_sweep.BtSmaCross, cash=1_000_000.0, commission=0.0, finalize_trades=True
        )
        stats = backtest.run(fast=fast, slow=slow)
    peer = stats["_trades"]
    assert len(peer) == len(results[0].trades)
    assert [t.entry_price for t in results[0].trades] == pytest.approx(
        list(peer["EntryPrice"]), rel=1e-12
    )


@pytest.mark.parametrize("trials", [1, 8, 20, 100, 999])
@pytest.mark.parametrize("is_spread", [False, True])
def test_a_sample_is_a_sub_grid_of_about_that_many_trials(trials: int, is_spread: bool) -> None:
    fasts, slows = bench_sweep.sample_ranges(trials, is_spread=is_spread)
    assert set(fasts) <= set(bench_sweep.FAST) and set(slows) <= set(bench_sweep.SLOW)
    assert trials <= len(fasts) * len(slows) <= 1.6 * trials + 2
    if is_spread and trials >= 8:  # spread over the grid, not its corner
        assert fasts[-1] >= bench_sweep.FAST[len(bench_sweep.FAST) // 2]
        assert slows[-1] >= bench_sweep.SLOW[len(bench_sweep.SLOW) // 2]
