"""Benchmark: 10,000 Monte Carlo simulations of a 2,000-trade run, per trade method.

Builds a synthetic run (2,000 trades closing over two years of hourly bars, per-trade returns
of mean +0.05 % and std 1 %), then times `simulate` + `montecarlo_document` (what the CLI and
the API compute) for the shuffle and bootstrap methods, best and median of several runs, wall
and CPU time. Target: under 2 s of wall time each. The block method is timed too at 10,000
simulations of its two years of daily returns (arch's bootstraps draw one path per call).

    .venv/bin/python benchmarks/bench_montecarlo.py [--simulations N] [--trades N] [--runs N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import numpy as np

from app.engine.metrics import NS_PER_DAY
from app.research.montecarlo import MonteCarloSpec, RunSample, simulate
from app.research.montecarlo_document import montecarlo_document

START_NS = 1_672_531_200_000_000_000  # 2023-01-01T00:00:00Z
DAYS = 730
TARGET_S = 2.0


def synthetic_run(trades: int, seed: int = 7) -> RunSample:
    """A run of `trades` trades spread over DAYS days, with its daily returns."""
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0005, 0.01, trades)
    exits = np.sort(rng.integers(START_NS, START_NS + DAYS * NS_PER_DAY, trades))
    day_ends = START_NS + NS_PER_DAY * np.arange(1, DAYS + 1) - NS_PER_DAY // 24
    return RunSample(
        initial_equity=10_000.0,
        start_time=START_NS,
        end_time=START_NS + DAYS * NS_PER_DAY,
        trade_returns=returns,
        trade_exit_times=exits.astype(np.int64),
        trades_ignored=0,
        day_end_times=day_ends.astype(np.int64),
        daily_returns=rng.normal(0.0004, 0.02, DAYS - 1),
        days_per_year=365,
        risk_free_rate=0.0,
    )


def timed(sample: RunSample, spec: MonteCarloSpec, runs: int) -> tuple[float, float, float]:
    """Best and median wall seconds, and the best CPU seconds, of simulate + document."""
    walls, cpus = [], []
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        montecarlo_document(sample, spec, simulate(sample, spec))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), statistics.median(walls), min(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=10_000)
    parser.add_argument("--trades", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    sample = synthetic_run(args.trades)
    simulate(sample, MonteCarloSpec(method="block", simulations=2))  # import arch first
    failed = False
    for method in ("shuffle", "bootstrap", "block"):
        spec = MonteCarloSpec(method=method, simulations=args.simulations, seed=1)
        best, median, cpu = timed(sample, spec, args.runs)
        size = f"{args.trades:,} trades" if method != "block" else f"{DAYS - 1} daily returns"
        verdict = ""
        if method != "block":
            verdict = "  ok" if best < TARGET_S else f"  OVER the {TARGET_S} s target"
            failed |= best >= TARGET_S
        print(
            f"{method:9} {args.simulations:,} simulations of {size}: best {best:.2f} s, "
            f"median {median:.2f} s, cpu {cpu:.2f} s{verdict}"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
