"""The parent's peak memory for the amplification worst case: a strategy that places and
cancels orders as fast as it can, up to the per-run order cap and past it.

    .venv/bin/python benchmarks/bench_parent_memory.py [--orders 200000] [--per-bar 50]

Three scenarios, each in a fresh Python process so its peak is its own:

- `server`: the job runner's path: the run in a sandbox worker, its result stored with
  `crud.store_result` into a new SQLite database, then the run deleted (`crud.delete_run`);
  the database's size is shown after each step.
- `cli`: `strategylab run`'s path: the run in a worker, then its folder written
  (`write_run_folder`: orders.csv, log.txt, ...).
- `capped`: the attack itself: orders without end; the engine stops the run at the cap
  ("limit exceeded: more than N orders") and the parent drops what it was streamed.

The figure is the parent's peak resident memory (ru_maxrss) above its resident memory once
the bars were built and before the run started; the worker's memory is not in it (it has a
limit of its own).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCHMARKS.parent)]

import numpy as np  # noqa: E402 - the path above makes the project importable

from app.engine import MarketData, RunConfig  # noqa: E402
from sandbox import LimitExceeded, RunLimits, run_sandboxed  # noqa: E402

PLACE_AND_CANCEL = """
class PlaceAndCancel(Strategy):
    params = {"per_bar": 50}

    def on_data(self, bar):
        for i in range(self.params["per_bar"]):
            self.cancel(self.buy(0.001, limit=bar.close * 0.5))
"""
LIMITS = RunLimits(wall_seconds=1800, cpu_seconds=1800)  # default memory and record caps
SCENARIOS = ("server", "cli", "capped")


def make_market(bars: int) -> MarketData:
    """Seeded hourly bars (a random walk around 30,000)."""
    rng = np.random.default_rng(5)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 0.003, bars)))
    open_ = np.r_[close[0], close[:-1]]
    return MarketData(
        time=1_704_067_200_000_000_000 + np.arange(bars, dtype=np.int64) * 3_600_000_000_000,
        open=open_,
        high=np.maximum(open_, close) * 1.001,
        low=np.minimum(open_, close) * 0.999,
        close=close,
        volume=np.ones(bars),
    )


def resident_mb() -> float:
    """The process's resident memory now, MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_mb() -> float:
    """The process's peak resident memory so far, MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_scenario(name: str, orders: int, per_bar: int) -> dict[str, Any]:
    """One scenario in this process; returns its figures."""
    bars = orders // per_bar if name != "capped" else 4 * orders // per_bar
    market = make_market(bars)
    config = RunConfig(params=(("per_bar", per_bar),))
    baseline = resident_mb()
    started = time.perf_counter()
    figures: dict[str, Any] = {"scenario": name, "bars": bars}
    try:
        result = run_sandboxed(PLACE_AND_CANCEL, market, config, LIMITS)
    except LimitExceeded as error:
        figures["outcome"] = str(error)
    else:
        figures["outcome"] = f"done, {len(result.orders):,} orders"
        with tempfile.TemporaryDirectory() as folder:
            if name == "server":
                figures.update(store_and_delete(result, Path(folder)))
            else:
                write_folder(result, Path(folder))
        del result
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["peak_above_baseline_mb"] = round(peak_mb() - baseline, 1)
    return figures


def store_and_delete(result: Any, folder: Path) -> dict[str, Any]:
    """Store the result as the job runner does, then delete the run; database sizes, MB."""
    import uuid
    from datetime import UTC, datetime

    from app.db import RunRow, RunStatus, crud, make_engine, migrate, session_scope

    path = folder / "bench.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    run_id = uuid.uuid4().hex
    with session_scope(engine) as session:
        crud.create_run(
            session,
            run=RunRow(
                id=run_id,
                status=RunStatus.RUNNING,
                code=PLACE_AND_CANCEL,
                code_hash=crud.code_hash(PLACE_AND_CANCEL),
                dataset="bench",
                created_at=datetime.now(UTC),
            ),
        )
        crud.store_result(session, run_id=run_id, result=result)
    stored_mb = _database_mb(path)
    with session_scope(engine) as session:
        crud.delete_run(session, run_id=run_id)
    engine.dispose()
    return {"db_after_store_mb": stored_mb, "db_after_delete_mb": _database_mb(path)}


def _database_mb(path: Path) -> float:
    wal = path.with_name(path.name + "-wal")
    size = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    return round(size / 1024 / 1024, 2)


def write_folder(result: Any, folder: Path) -> None:
    """Write the run folder as `strategylab run --out` does."""
    from app.runs.folder import write_run_folder

    write_run_folder(result, folder / "run", {"benchmark": "bench_parent_memory"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=LIMITS.max_orders)
    parser.add_argument("--per-bar", type=int, default=50)
    parser.add_argument("--scenario", choices=SCENARIOS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:  # the child process: one scenario, figures as JSON on stdout
        print(json.dumps(run_scenario(args.scenario, args.orders, args.per_bar)))
        return
    print(
        f"orders placed and cancelled: {args.orders:,} ({args.per_bar} a bar); "
        f"caps: {LIMITS.max_orders:,} orders, {LIMITS.max_trades:,} trades, "
        f"memory {LIMITS.memory_mb} MB (record budget {LIMITS.memory_mb // 4} MB)"
    )
    for name in SCENARIOS:
        command = [sys.executable, __file__, "--scenario", name, "--orders", str(args.orders)]
        command += ["--per-bar", str(args.per_bar)]
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, env=dict(os.environ)
        )
        if completed.returncode != 0:
            print(f"{name}: failed\n{completed.stderr[-2000:]}")
            continue
        figures = json.loads(completed.stdout.strip().splitlines()[-1])
        extra = "".join(
            f", {key} {figures[key]}"
            for key in ("db_after_store_mb", "db_after_delete_mb")
            if key in figures
        )
        print(
            f"{name:7s} {figures['outcome']}: parent peak +{figures['peak_above_baseline_mb']} MB"
            f" in {figures['seconds']} s ({figures['bars']:,} bars){extra}"
        )


if __name__ == "__main__":
    main()
