"""Sweep trials (app/runs/trials.py): each trial is a sandboxed run whose metrics.json document
equals a standalone run's to the byte, indicators are computed once per distinct setting, a
failing trial fails alone, and cancel kills the running trials."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from app import strict_json
from app.engine import MarketData
from app.engine.metrics import daily_returns
from app.runs import (
    DataIdentity,
    InvalidRunRequestError,
    PreparedRun,
    RunInputs,
    RunOrder,
    RunService,
    TrialFailed,
    TrialRun,
    TrialRunner,
    build_config,
    inspect_strategy,
    with_params,
)
from sandbox import ForkServer, OperatorMaximums, RunLimits, start_fork_server

SMA = """
class SmaTrend(Strategy):
    params = {"fast": 5, "slow": 20, "size": 1.0}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.trend = self.indicator("ema", length=3, timeframe="4h")

    def on_data(self, bar):
        if crossover(self.fast, self.slow) and bar.close > self.trend[-1]:
            self.close_position()
            self.buy(self.params["size"])
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(self.params["size"])
"""
FAILS_WHEN_FAST_IS_4 = """
class Fragile(Strategy):
    params = {"fast": 3}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.ratio = 1 / (self.params["fast"] - 4)

    def on_data(self, bar):
        pass
"""
SPIN = """
class Spin(Strategy):
    params = {"n": 1}

    def on_data(self, bar):
        while True:
            pass
"""
OPTIONS = {"cash": 100_000.0}
LIMITS = RunLimits(wall_seconds=60.0, cpu_seconds=30.0, memory_mb=1024)


def hourly_market(bars: int = 1_000, seed: int = 5) -> MarketData:
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.006, bars)))
    open_ = np.r_[close[0], close[:-1]]
    return MarketData(
        time=1_704_067_200_000_000_000 + np.arange(bars, dtype=np.int64) * 3_600_000_000_000,
        open=open_,
        high=np.maximum(open_, close) * 1.002,
        low=np.minimum(open_, close) * 0.998,
        close=close,
        volume=rng.uniform(1.0, 9.0, bars),
        symbol="BTCUSDT",
    )


def prepared(code: str, market: MarketData, **order: object) -> PreparedRun:
    inspection = inspect_strategy(code)
    run_order = RunOrder(options=OPTIONS, limits=LIMITS, **order)  # type: ignore[arg-type]
    config = build_config(run_order, inspection=inspection, symbol=market.symbol)
    data = DataIdentity("bars", market.symbol, len(market), "0" * 64)
    inputs = RunInputs(code, "strategy.py", inspection, data, config)
    return PreparedRun(inputs, market, LIMITS, OperatorMaximums())


@pytest.fixture(scope="module")
def market() -> MarketData:
    return hourly_market()


@pytest.fixture(scope="module")
def server() -> Iterator[ForkServer]:
    """One fork server lent to every runner here (each would otherwise warm up its own)."""
    forkserver = start_fork_server()
    yield forkserver
    forkserver.close()


@pytest.fixture(scope="module")
def sma_runner(market: MarketData, server: ForkServer) -> Iterator[TrialRunner]:
    end = int(market.time[-200])  # bars after the end are cut for the trials' indicators too
    with TrialRunner(prepared(SMA, market, end=end), workers=2, forkserver=server) as runner:
        yield runner


GRID = [{"fast": fast, "slow": slow} for fast in (3, 4) for slow in (10, 12, 14)]


def test_every_trial_equals_a_standalone_run(sma_runner: TrialRunner, tmp_path: Path) -> None:
    outcomes = sma_runner.run_batch(GRID)
    assert [outcome.params for outcome in outcomes if outcome] == [
        {"fast": p["fast"], "slow": p["slow"], "size": 1.0} for p in GRID
    ]
    service = RunService()
    for index in (4,):  # a standalone run (a fresh interpreter: slow on 2 busy cores)
        trial = outcomes[index]
        assert isinstance(trial, TrialRun)
        solo = service.run(
            with_params(sma_runner.base, GRID[index]),
            door="cli",
            names={},
            out_dir=tmp_path / str(index),
        )
        written = (tmp_path / str(index) / "metrics.json").read_text()
        assert strict_json.dumps(trial.metrics, indent=2, sort_keys=False) + "\n" == written
        assert trial.trades == len(solo.result.trades) > 0
        curve = solo.result.equity
        assert trial.daily_returns.tobytes() == daily_returns(curve.time, curve.equity).tobytes()
        assert len(trial.day_ends) == len(trial.daily_returns) > 10
        assert trial.figures["sharpe"] == trial.metrics["metrics"]["sharpe"]
    first = outcomes[0]
    assert isinstance(first, TrialRun)
    assert all(
        isinstance(o, TrialRun) and o.day_ends.tobytes() == first.day_ends.tobytes()
        for o in outcomes
    )


def test_each_distinct_indicator_setting_is_computed_once(sma_runner: TrialRunner) -> None:
    sma_runner.run_batch(GRID)
    distinct = 2 + 3 + 1  # fast 3, 4; slow 10, 12, 14; the 4h ema
    assert sma_runner.indicator_computations == distinct
    again = sma_runner.run_batch(list(reversed(GRID)))
    assert sma_runner.indicator_computations == distinct
    assert all(isinstance(outcome, TrialRun) for outcome in again)


def test_params_are_checked_before_any_trial_runs(sma_runner: TrialRunner) -> None:
    before = sma_runner.indicator_computations
    with pytest.raises(InvalidRunRequestError) as unknown:
        sma_runner.run_batch([{"fast": 3}, {"fats": 4}])
    assert unknown.value.field == "params"
    with pytest.raises(InvalidRunRequestError):
        sma_runner.run_batch([{"fast": 2.5}])
    assert sma_runner.indicator_computations == before


def test_with_params_types_like_the_defaults(sma_runner: TrialRunner) -> None:
    config = with_params(sma_runner.base, {"fast": "7", "size": 2}).inputs.config
    assert config.param_dict == {"fast": 7, "slow": 20, "size": 2.0}
    assert type(config.param_dict["size"]) is float
    assert config.end == sma_runner.base.inputs.config.end


def test_a_failing_trial_fails_alone(market: MarketData, server: ForkServer) -> None:
    base = prepared(FAILS_WHEN_FAST_IS_4, market)
    with TrialRunner(base, workers=2, forkserver=server) as runner:
        outcomes = runner.run_batch([{"fast": 3}, {"fast": 4}, {"fast": 5}])
    assert isinstance(outcomes[0], TrialRun) and isinstance(outcomes[2], TrialRun)
    failed = outcomes[1]
    assert isinstance(failed, TrialFailed)
    assert failed.params == {"fast": 4}
    assert "ZeroDivisionError" in failed.reason and "initialize()" in failed.reason
    assert "\n" not in failed.reason


def test_cancel_kills_the_running_trials(market: MarketData, server: ForkServer) -> None:
    cancel = threading.Event()
    cancelled_at: list[float] = []

    def stop() -> None:
        cancelled_at.append(time.monotonic())
        cancel.set()

    server.wait_ready()  # the trials are spinning in their workers when the cancel comes
    with TrialRunner(prepared(SPIN, market), workers=2, forkserver=server) as runner:
        threading.Timer(2.0, stop).start()
        outcomes = runner.run_batch([{"n": n} for n in range(5)], cancel=cancel)
        returned_at = time.monotonic()
    assert outcomes == [None] * 5
    assert returned_at - cancelled_at[0] < 5
    assert server.is_alive  # a lent server outlives its runner


def test_the_worker_count_is_checked(market: MarketData) -> None:
    for workers in (0, -1, 1000):
        with pytest.raises(InvalidRunRequestError, match="workers"):
            TrialRunner(prepared(SMA, market), workers=workers)


def test_closing_the_runner_kills_its_running_trials(
    market: MarketData, server: ForkServer
) -> None:
    server.wait_ready()
    runner = TrialRunner(prepared(SPIN, market), workers=2, forkserver=server)
    outcomes: list[object] = []
    batch = threading.Thread(target=lambda: outcomes.extend(runner.run_batch([{"n": 1}, {"n": 2}])))
    batch.start()
    time.sleep(2.0)  # both trials spinning in their workers
    closing = time.monotonic()
    runner.close()
    batch.join(10)
    assert outcomes == [None, None]
    assert time.monotonic() - closing < 5
