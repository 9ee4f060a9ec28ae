"""Sandbox overhead: the SMA crossover in-process (plain and guarded) and in the worker.

Run: .venv/bin/python benchmarks/bench_sandbox_overhead.py [--bars 525600] [--backtesting]
`--backtesting` also times backtesting.py on the same bars, for the ">= 3x faster" target.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import typing
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.engine import MarketData, RunConfig, Strategy, crossover, crossunder, run_backtest  # noqa: E402
from sandbox import RunLimits, compile_strategy, run_sandboxed, start_worker  # noqa: E402

logger = logging.getLogger("bench_sandbox_overhead")
WARM_UP_S = 3.0
SOURCE = (ROOT / "strategies_examples" / "sma_crossover.py").read_text()


def synthetic_market(bars: int, seed: int = 42) -> MarketData:
    """A seeded 1-minute random walk."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, bars)))
    open_ = np.r_[close[0], close[:-1]]
    spread = rng.uniform(0.0, 0.0008, bars)
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    time_ns = 1_704_067_200_000_000_000 + np.arange(bars, dtype=np.int64) * 60_000_000_000
    return MarketData(
        time=time_ns,
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=rng.uniform(1.0, 10.0, bars),
    )


def plain_class() -> type[Strategy]:
    """The example compiled by plain Python, no guards (the unprotected baseline)."""
    namespace: dict[str, Any] = {
        "Strategy": Strategy,
        "crossover": crossover,
        "crossunder": crossunder,
        "__name__": "plain",
    }
    exec(compile(SOURCE, "sma_crossover.py", "exec"), namespace)
    strategy_class: type[Strategy] = namespace["SmaCross"]
    return strategy_class


def timed(label: str, bars: int, action: Callable[[], object], repeat: int = 1) -> float:
    """Best of `repeat` runs of `action`, in seconds (the machine may be shared)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    logger.info("%-30s %8.2f s  %12.0f bars/s", label, best, bars / best)
    return best


def backtesting_py(market: MarketData) -> Callable[[], object]:
    """backtesting.py's SMA cross on the same bars (its canonical example, same rules)."""
    import pandas as pd
    from backtesting import Backtest
    from backtesting import Strategy as BtStrategy
    from backtesting.lib import crossover as bt_crossover

    frame = market.to_frame().rename(columns=str.capitalize)

    def sma(values: Any, n: int) -> Any:
        return pd.Series(values).rolling(n).mean()

    class SmaCross(BtStrategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, 10)
            self.slow = self.I(sma, self.data.Close, 30)

        def next(self) -> None:
            if bt_crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=1)  # whole units: 0 < size < 1 means a fraction of equity
            elif bt_crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=1)

    warnings.simplefilter("ignore")  # backtesting.py warns once per refused order
    test = Backtest(
        frame, SmaCross, cash=10_000_000, commission=0.0005, margin=1 / 3, finalize_trades=True
    )
    run: Callable[[], object] = test.run
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bars", type=int, default=525_600)
    parser.add_argument("--backtesting", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs per variant")
    args = parser.parse_args()
    repeat = args.repeat
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    market = synthetic_market(args.bars)
    config = RunConfig()
    guarded = typing.cast(type[Strategy], compile_strategy(SOURCE).strategy_class)
    limits = RunLimits(wall_seconds=1800, cpu_seconds=1800, memory_mb=4096)
    logger.info("SMA crossover over %d 1-minute bars", args.bars)
    plain = timed(
        "in-process, plain exec",
        args.bars,
        lambda: run_backtest(plain_class(), market, config),
        repeat,
    )
    inproc = timed(
        "in-process, guarded", args.bars, lambda: run_backtest(guarded, market, config), repeat
    )
    cold = timed(
        "sandboxed, cold worker",
        args.bars,
        lambda: run_sandboxed(SOURCE, market, config, limits),
        repeat,
    )

    def prestarted_run() -> float:
        warm = start_worker()
        time.sleep(WARM_UP_S)  # a job runner starts the next worker while the previous run goes
        started = time.perf_counter()
        run_sandboxed(SOURCE, market, config, limits, worker=warm)
        return time.perf_counter() - started

    prestarted = min(prestarted_run() for _ in range(repeat))
    logger.info(
        "%-30s %8.2f s  %12.0f bars/s",
        "sandboxed, pre-started worker",
        prestarted,
        args.bars / prestarted,
    )
    logger.info(
        "guard overhead %+.1f %%; worker overhead: cold %+.2f s, pre-started %+.2f s",
        100 * (inproc / plain - 1),
        cold - plain,
        prestarted - plain,
    )
    if args.backtesting:
        reference = timed("backtesting.py", args.bars, backtesting_py(market), repeat)
        logger.info(
            "backtesting.py time / strategylab time: in-process guarded %.1fx, "
            "cold worker %.1fx, pre-started worker %.1fx",
            reference / inproc,
            reference / cold,
            reference / prestarted,
        )


if __name__ == "__main__":
    main()
