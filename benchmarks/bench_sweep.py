"""Sweep speed (issue 11): the SMA crossover grid fast 5..24 x slow 30..275 step 5 (1,000
trials) over 525,600 synthetic 1-minute bars, every trial a sandboxed run, through the real
sweep path (`app.research.sweep.run_sweep`: Optuna grid, SQLite study, TrialRunner with shared
indicators), against backtesting.py's `Backtest.optimize` on the same grid.

    .venv/bin/python benchmarks/bench_sweep.py                       # the whole grid
    .venv/bin/python benchmarks/bench_sweep.py --trials-sample 16    # a quick sample
    .venv/bin/python benchmarks/bench_sweep.py --trials-sample 20 --spread --peer-sample 4

The figure for the targets is the whole grid (the default). `--trials-sample N` is a quick
look only, and it overstates: a corner of the grid of about N trials runs (the smallest `fast`
and `slow` values: the most trades, so the slowest trials), and the 1,000-trial time is the
sample's per-trial time x 1,000, so the sweep's fixed start-up (fork server warm-up, imports,
study storage) is counted 1,000/N times. `--spread` spreads the N trials evenly over the grid
instead (every k-th `fast` and `slow`), but a small spread still over-weights the costly
fast=5 rows: on 2026-12-02 a 30-trial spread extrapolated to 448 s where the whole grid took
212 s.
backtesting.py's `optimize` (its own process pool over all cores, as ours uses `--workers`) is
timed on `--peer-sample` random trials of the same grid in the same run
and extrapolated the same way. Peak memory is the largest sum of the resident set sizes of this
process and all its descendants (fork server, workers), sampled every 0.1 s; the CPU figure
is the whole tree's (this process, the fork server and every worker), so on a machine other
work loads it shows what the grid needs of free cores.
Targets: the whole grid in under 5 minutes on 2 busy cores, peak memory under 2 GB, at least
10x faster than backtesting.py.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar, not a result
ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import pandas_ta as ta  # noqa: E402
from backtesting import Backtest  # noqa: E402
from backtesting import Strategy as BtStrategy  # noqa: E402
from backtesting.lib import crossover as bt_crossover  # noqa: E402
from bench_sma_crossover import SMA_SOURCE, YEAR_OF_MINUTES, make_bars  # noqa: E402 - path above

FAST = range(5, 25)
SLOW = range(30, 280, 5)
GRID_TRIALS = len(FAST) * len(SLOW)  # 1,000
TARGET_WALL_S = 300.0
TARGET_MEMORY_MB = 2_048.0
TARGET_SPEEDUP = 10.0
# backtesting.py's terms (as bench_sma_crossover): cash for 1 unit, no fees or funding.
OPTIONS = {"cash": 1_000_000.0, "fee_maker": 0.0, "fee_taker": 0.0, "funding_rate": 0.0}
OPTIONS["leverage_max"] = 1.0

# The strategy of bench_sma_crossover, declaring its two signals (docs/engine.md "Wake-ups"):
# on_data runs on the crossover bars and the fill bars instead of all 525,600.
SWEEP_SOURCE = """
class SmaCross(Strategy):
    params = {"fast": 10, "slow": 30}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])
        self.wake_on("cross", self.fast, self.slow)

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(1.0)
"""


def sample_ranges(trials: int | None, *, is_spread: bool = False) -> tuple[range, range]:
    """About `trials` trials of the grid (the whole grid for None): its corner (the smallest
    values), or with `is_spread` a sub-grid spread evenly over it (every k-th value of each
    param), whose mean trial stands for the whole grid's."""
    if trials is None or trials >= GRID_TRIALS:
        return FAST, SLOW
    fasts = max(1, min(len(FAST), round(math.sqrt(trials * len(FAST) / len(SLOW)))))
    slows = max(1, min(len(SLOW), math.ceil(trials / fasts)))
    if is_spread:
        return FAST[:: len(FAST) // fasts][:fasts], SLOW[:: len(SLOW) // slows][:slows]
    return FAST[:fasts], SLOW[:slows]


class ProcessTree:
    """The resident set size of a process and all its descendants (Linux /proc), cheap enough
    to sample often: each process's parent is read once, when it first appears, and only the
    tree's members are read on each sample (a full read of every /proc/<pid>/stat took ~14 ms
    of CPU per sample on a busy machine, a sweep's worth of a core's time)."""

    def __init__(self, root: int) -> None:
        self._root = root
        self._parent_of: dict[int, int] = {}
        self._page_bytes = os.sysconf("SC_PAGE_SIZE")

    def rss_mb(self) -> float:
        alive = {int(entry.name) for entry in os.scandir("/proc") if entry.name.isdigit()}
        for gone in self._parent_of.keys() - alive:
            del self._parent_of[gone]
        for pid in alive - self._parent_of.keys():
            try:
                fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            self._parent_of[pid] = int(fields[1])  # field 4: ppid
        children: dict[int, list[int]] = {}
        for pid, parent in self._parent_of.items():
            children.setdefault(parent, []).append(pid)
        total, stack = 0, [self._root]
        while stack:
            pid = stack.pop()
            with contextlib.suppress(OSError, IndexError):  # statm field 2: resident pages
                total += int(Path(f"/proc/{pid}/statm").read_bytes().split()[1])
            stack.extend(children.get(pid, []))
        return total * self._page_bytes / 2**20


class PeakMemory:
    """Samples this process's ProcessTree every `every_s` in a thread; `peak_mb` is the most."""

    def __init__(self, every_s: float = 0.1) -> None:
        self.peak_mb = 0.0
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        tree = ProcessTree(os.getpid())
        while not self._stop.wait(self._every_s):
            self.peak_mb = max(self.peak_mb, tree.rss_mb())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds of this process, and of its children that have exited (the fork server,
    once closed, with every worker it forked and reaped)."""
    times = os.times()
    return times.user + times.system, times.children_user + times.children_system


def run_ours(
    frame: pd.DataFrame,
    fasts: range,
    slows: range,
    workers: int,
    folder: Path,
    source: str = SWEEP_SOURCE,
) -> tuple[float, int, int, float, tuple[float, float]]:
    """Wall seconds of the sweep of `source` (fork server start included), trials run, failed
    trials, the peak memory of the process tree (MB) and the CPU seconds of this process (the
    sweep's parent: Optuna, shared indicators, each result's check and summary, the memory
    sampler) and of the fork server with its workers."""
    from app.research.space import IntRange, SearchSpace
    from app.research.sweep import Constraints, Objective, SweepSpec, run_sweep
    from app.runs.prepare import RunOrder, prepare_file_run
    from sandbox import OperatorMaximums, RunLimits

    data_path, code_path = folder / "bars.parquet", folder / "sma.py"
    frame.to_parquet(data_path)
    code_path.write_text(source)
    limits = RunLimits(wall_seconds=3_600.0, cpu_seconds=3_600.0, memory_mb=2_048)
    maximums = OperatorMaximums(wall_seconds=3_600.0, cpu_seconds=3_600.0, memory_mb=2_048)
    base = prepare_file_run(
        code_path,
        data_path,
        RunOrder(options=OPTIONS, limits=limits),
        symbol="BTCUSDT",
        maximums=maximums,
    )
    space = SearchSpace(
        (
            IntRange("fast", fasts.start, fasts[-1], fasts.step),
            IntRange("slow", slows.start, slows[-1], slows.step),
        )
    )
    spec = SweepSpec(
        space=space,
        method="grid",
        objectives=(Objective("sharpe", "maximize"),),
        constraints=Constraints(),
        n_trials=None,
        seed=1,
    )
    with PeakMemory() as memory:
        cpu_started = cpu_seconds()
        started = time.perf_counter()
        result = run_sweep(
            spec,
            base,
            storage_url=f"sqlite:///{folder / 'study.db'}",
            study_name="bench",
            workers=workers,
        )
        seconds = time.perf_counter() - started
        cpu_ended = cpu_seconds()  # the runner closed its fork server: all reaped
    failed = sum(1 for trial in result.trials if trial.error is not None)
    own, children = (end - begin for end, begin in zip(cpu_ended, cpu_started, strict=True))
    return seconds, len(result.trials), failed, memory.peak_mb, (own, children)


def sma(values: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
    """pandas-ta's sma, as our engine computes it."""
    return ta.sma(pd.Series(values), length).to_numpy(dtype=np.float64)


class BtSmaCross(BtStrategy):  # type: ignore[misc]
    """The strategy in backtesting.py (module level: its optimize pickles it to its pool)."""

    fast = 10
    slow = 30

    def init(self) -> None:
        self.fast_line = self.I(sma, self.data.Close, self.fast)
        self.slow_line = self.I(sma, self.data.Close, self.slow)

    def next(self) -> None:
        if bt_crossover(self.fast_line, self.slow_line):
            self.position.close()
            self.buy(size=1)
        elif bt_crossover(self.slow_line, self.fast_line):
            self.position.close()
            self.sell(size=1)


def run_peer(frame: pd.DataFrame, tries: int) -> tuple[float, int]:
    """Seconds of backtesting.py's Backtest.optimize over `tries` random trials of the grid
    (its own process pool), and the trials it ran."""
    data = frame.rename(columns=str.capitalize)
    data.index = pd.DatetimeIndex(data.index).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backtest = Backtest(
            data, BtSmaCross, cash=1_000_000.0, commission=0.0, finalize_trades=True
        )
        started = time.perf_counter()
        _, heatmap = backtest.optimize(
            fast=list(FAST),
            slow=list(SLOW),
            maximize="Sharpe Ratio",
            max_tries=tries,
            random_state=1,
            return_heatmap=True,
        )
        seconds = time.perf_counter() - started
    return seconds, len(heatmap)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=YEAR_OF_MINUTES)
    parser.add_argument("--trials-sample", type=int, help="run about N trials of the grid")
    parser.add_argument(
        "--spread",
        action="store_true",
        help="spread the --trials-sample over the whole grid instead of its slowest corner",
    )
    parser.add_argument("--peer-sample", type=int, default=20, help="backtesting.py trials")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument(
        "--every-bar",
        action="store_true",
        help="also sweep the strategy without its wake_on declaration (on_data on every bar)",
    )
    args = parser.parse_args()

    frame = make_bars(args.bars)
    fasts, slows = sample_ranges(args.trials_sample, is_spread=args.spread)
    print(
        f"SMA crossover grid fast {fasts.start}..{fasts[-1]} step {fasts.step} x slow "
        f"{slows.start}..{slows[-1]} step {slows.step} ({len(fasts) * len(slows):,} of "
        f"{GRID_TRIALS:,} trials) on "
        f"{args.bars:,} 1-minute bars, {args.workers} workers; load {os.getloadavg()[0]:.1f}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
        seconds, trials, failed, peak_mb, (parent_cpu, workers_cpu) = run_ours(
            frame, fasts, slows, args.workers, Path(folder)
        )
    cpu = parent_cpu + workers_cpu
    per_trial = seconds / trials
    whole = per_trial * GRID_TRIALS
    print(
        f"strategylab:    {trials} trials ({failed} failed) in {seconds:.1f} s: "
        f"{trials / seconds:.2f} trials/s, {per_trial:.2f} s/trial wall; "
        f"{GRID_TRIALS:,} trials ~ {whole:.0f} s "
        f"({'meets' if whole < TARGET_WALL_S else 'MISSES'} the {TARGET_WALL_S:.0f} s target)"
    )
    cores = os.cpu_count() or 1
    print(
        f"CPU of the process tree: {cpu:.1f} s, {cpu / trials:.2f} s/trial; on {cores} free "
        f"cores {GRID_TRIALS:,} trials ~ {cpu / trials * GRID_TRIALS / cores:.0f} s "
        f"(load {os.getloadavg()[0]:.1f} at the end: other work slows the wall figure); "
        f"parent {parent_cpu:.1f} s, fork server and workers {workers_cpu:.1f} s"
    )
    if args.every_bar:
        with tempfile.TemporaryDirectory(prefix="bench-sweep-") as folder:
            plain_s, plain_trials, _, _, plain_times = run_ours(
                frame, fasts, slows, args.workers, Path(folder), SMA_SOURCE
            )
        plain_cpu = sum(plain_times)
        print(
            f"without wake_on: {plain_trials} trials in {plain_s:.1f} s wall, "
            f"{plain_cpu / plain_trials:.2f} s/trial CPU: the declaration is "
            f"{plain_cpu / plain_trials / (cpu / trials):.1f}x less CPU per trial "
            f"(load {os.getloadavg()[0]:.1f})"
        )
    print(
        f"peak memory of the process tree: {peak_mb:.0f} MB "
        f"({'meets' if peak_mb < TARGET_MEMORY_MB else 'MISSES'} the {TARGET_MEMORY_MB:.0f} MB "
        "target)"
    )
    if args.skip_peer:
        return
    peer_seconds, peer_trials = run_peer(frame, args.peer_sample)
    peer_whole = peer_seconds / peer_trials * GRID_TRIALS
    print(
        f"backtesting.py: {peer_trials} trials in {peer_seconds:.1f} s: "
        f"{peer_seconds / peer_trials:.2f} s/trial wall; {GRID_TRIALS:,} trials ~ "
        f"{peer_whole:.0f} s"
    )
    ratio = peer_whole / whole
    print(
        f"speed ratio: strategylab is {ratio:.1f}x faster "
        f"({'meets' if ratio >= TARGET_SPEEDUP else 'MISSES'} the {TARGET_SPEEDUP:g}x target)"
    )


if __name__ == "__main__":
    main()
