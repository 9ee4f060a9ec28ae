"""What a user waits for: a whole `strategylab run` (CSV in, run folder out) against a
backtesting.py script that reads the same CSV, runs the same strategy and saves its trades and
equity curve to CSV, both timed as whole processes from start to files on disk.

    .venv/bin/python benchmarks/bench_whole_run.py                  # both workloads, 5 runs each
    .venv/bin/python benchmarks/bench_whole_run.py --only sma --repeat 3 --skip-memory
    .venv/bin/python benchmarks/bench_whole_run.py --only sma --sma-form every-bar
    .venv/bin/python benchmarks/bench_whole_run.py --memory-only

Workloads: the SMA crossover of `bench_sma_crossover` on 525,600 one-minute bars (backtesting.py's
terms: 1 unit, no fees, no leverage), in both of its forms by default, each against the same
backtesting.py runs: as the bundled example writes it (`wake_on("cross", ...)`: on_data on the
crossing bars) and with on_data on every bar; the two must write the same trades.csv. And
`strategies_examples/trend_pullback.py` (EMA, SuperTrend, daily VWAP, StochRSI from pandas-ta) on
the bundled one-year minute sample, trading 1 unit with the same indicators in both engines.
Runs alternate between the programs and the median of `--repeat` is shown, with the CPU seconds
of the process trees (on a machine other jobs load, their ratio is the steadier figure). The
memory figures are the peak resident sets of the `strategylab run` process (the every-bar SMA
crossover), of its sandbox worker, and of the two summed at the same instant (sampled every
10 ms), on 1,000,000 bars; shared library pages count in both processes.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
sys.path[:0] = [str(ROOT), str(BENCHMARKS)]

from bench_sma_crossover import SMA_FORMS, SMA_SOURCE, YEAR_OF_MINUTES, make_bars  # noqa: E402

STRATEGYLAB = ROOT / ".venv" / "bin" / "strategylab"
SAMPLE_1M = ROOT / "data" / "samples" / "BTCUSDT-1m.parquet"
MEMORY_BARS = 1_000_000
MEMORY_TARGET_MB = 300
TARGETS = {"sma": 3.0, "trend_pullback": 5.0}
TREND_PULLBACK_TARGET_S = 3.0
# backtesting.py's terms for both engines: 1 unit per trade, no fees, funding or leverage.
TERMS = ["--cash", "100000000", "--fee-maker", "0", "--fee-taker", "0", "--funding-rate", "0"]
TERMS += ["--leverage-max", "1", "--mode", "futures"]

PEER_PROLOGUE = """
import os, sys, warnings
os.environ["TQDM_DISABLE"] = "1"
import numpy as np
import pandas as pd
import pandas_ta as ta
from backtesting import Backtest, Strategy
from backtesting.lib import crossover

csv_path, out_dir = sys.argv[1], sys.argv[2]
frame = pd.read_csv(csv_path, index_col="time", parse_dates=["time"])
frame.index = pd.DatetimeIndex(frame.index).tz_localize(None)
data = frame.rename(columns=str.capitalize)

def series(values):
    return pd.Series(values, index=data.index)
"""

PEER_SMA = """
def sma(values, length):
    return ta.sma(series(values), length).to_numpy()

class SmaCross(Strategy):
    def init(self):
        self.fast = self.I(sma, self.data.Close, 10)
        self.slow = self.I(sma, self.data.Close, 30)

    def next(self):
        if crossover(self.fast, self.slow):
            self.position.close()
            self.buy(size=1)
        elif crossover(self.slow, self.fast):
            self.position.close()
            self.sell(size=1)

STRATEGY = SmaCross
"""

PEER_TREND_PULLBACK = """
# pandas-ta's own code, as Strategy Lab computes it: with TA-Lib importable (the ta-lib
# wheel is a dependency) pandas-ta computes ema, rsi and atr through TA-Lib, whose values
# differ (docs/performance.md, "trend_pullback's trades in both engines").
import pandas_ta.maps
pandas_ta.maps.Imports["talib"] = False

def ema(values, length):
    return ta.ema(series(values), length).to_numpy()

def supertrend_direction(high, low, close):
    frame = ta.supertrend(series(high), series(low), series(close), length=10, multiplier=3.0)
    return frame["SUPERTd_10_3.0"].to_numpy()

def vwap(high, low, close, volume):
    index = data.index.tz_localize("UTC")
    values = [pd.Series(v, index=index) for v in (high, low, close, volume)]
    return ta.vwap(*values, anchor="D").to_numpy()

def stochrsi(close, column):
    return ta.stochrsi(series(close), length=14, rsi_length=14, k=3, d=3)[column].to_numpy()

def crossunder(a, b):
    return crossover(b, a)

class TrendPullback(Strategy):
    def init(self):
        d = self.data
        self.ema_fast = self.I(ema, d.Close, 21)
        self.ema_slow = self.I(ema, d.Close, 50)
        self.direction = self.I(supertrend_direction, d.High, d.Low, d.Close)
        self.vwap = self.I(vwap, d.High, d.Low, d.Close, d.Volume)
        self.k = self.I(stochrsi, d.Close, "STOCHRSIk_14_14_3_3")
        self.d = self.I(stochrsi, d.Close, "STOCHRSId_14_14_3_3")

    def next(self):
        k, d, direction, close = self.k, self.d, self.direction[-1], self.data.Close[-1]
        up = self.ema_fast[-1] > self.ema_slow[-1] and direction > 0 and close > self.vwap[-1]
        down = self.ema_fast[-1] < self.ema_slow[-1] and direction < 0 and close < self.vwap[-1]
        size = self.position.size
        if size == 0:
            if up and crossover(k, d) and k[-1] < 30:
                self.buy(size=1)
            elif down and crossunder(k, d) and k[-1] > 70:
                self.sell(size=1)
        elif size > 0 and (direction < 0 or (crossunder(k, d) and k[-1] > 80)):
            self.position.close()
        elif size < 0 and (direction > 0 or (crossover(k, d) and k[-1] < 20)):
            self.position.close()

STRATEGY = TrendPullback
"""

PEER_EPILOGUE = """
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    stats = Backtest(data, STRATEGY, cash=100_000_000, commission=0.0, finalize_trades=True).run()
os.makedirs(out_dir, exist_ok=True)
stats["_trades"].to_csv(os.path.join(out_dir, "trades.csv"))
stats["_equity_curve"].to_csv(os.path.join(out_dir, "equity.csv"))
print(int(stats["# Trades"]))
"""


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    ours: dict[str, list[str]]  # label -> a strategylab command, less --out
    peer: list[str]  # the backtesting.py command, less its output folder


def sma_workload(work: Path, forms: list[str]) -> Workload:
    csv_path = work / "sma-525600.csv"
    make_bars(YEAR_OF_MINUTES).to_csv(csv_path)
    ours: dict[str, list[str]] = {}
    for form in forms:
        label, code = SMA_FORMS[form]
        source = work / f"sma_crossover_{form.replace('-', '_')}.py"
        source.write_text(code, encoding="utf-8")
        ours[label] = [str(STRATEGYLAB), "run", str(source), "--data", str(csv_path), *TERMS]
    peer = work / "peer_sma.py"
    peer.write_text(PEER_PROLOGUE + PEER_SMA + PEER_EPILOGUE, encoding="utf-8")
    return Workload("sma", ours, [sys.executable, str(peer), str(csv_path)])


def trend_pullback_workload(work: Path, forms: list[str]) -> Workload:
    import pandas as pd

    csv_path = work / "btcusdt-1m.csv"
    frame = pd.read_parquet(SAMPLE_1M)
    if not isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.set_index("time")
    frame.index.name = "time"
    frame[["open", "high", "low", "close", "volume"]].to_csv(csv_path)
    source = ROOT / "strategies_examples" / "trend_pullback.py"
    peer = work / "peer_trend_pullback.py"
    peer.write_text(PEER_PROLOGUE + PEER_TREND_PULLBACK + PEER_EPILOGUE, encoding="utf-8")
    params = ["--param", "amount=1.0", "--param", "leverage=1"]
    ours = [str(STRATEGYLAB), "run", str(source), "--data", str(csv_path), *TERMS, *params]
    label = "trend_pullback (as the bundled example writes it: wake_on)"
    return Workload("trend_pullback", {label: ours}, [sys.executable, str(peer), str(csv_path)])


def children_cpu_s() -> float:
    """CPU seconds (user + system) of this process's finished descendants so far (each
    process counts those of its own children it waited for: the sandbox worker too)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str]) -> tuple[float, float]:
    """Wall-clock and CPU seconds of `command` run as a whole process tree."""
    cpu = children_cpu_s()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, children_cpu_s() - cpu


def count_rows(path: Path) -> int:
    with path.open(encoding="utf-8") as handle:
        return sum(1 for _ in handle) - 1


def verdict(ratio: float, target: float) -> str:
    return f"meets the {target:g}x target" if ratio >= target else f"MISSES the {target:g}x target"


def compare(workload: Workload, work: Path, repeat: int) -> None:
    """Each of the workload's strategylab commands and the backtesting.py script, alternating,
    `repeat` times; every strategylab row is set against the same backtesting.py runs."""
    labels = list(workload.ours)
    ours_s: dict[str, list[float]] = {label: [] for label in labels}
    ours_cpu: dict[str, list[float]] = {label: [] for label in labels}
    peer_s: list[float] = []
    peer_cpu: list[float] = []
    for attempt in range(repeat):
        for number, label in enumerate(labels):
            out = work / f"{workload.name}-ours{number}-{attempt}"
            wall, cpu = timed([*workload.ours[label], "--out", str(out)])
            ours_s[label].append(wall)
            ours_cpu[label].append(cpu)
        wall, cpu = timed([*workload.peer, str(work / f"{workload.name}-peer-{attempt}")])
        peer_s.append(wall)
        peer_cpu.append(cpu)
    peer, cpu_peer = statistics.median(peer_s), statistics.median(peer_cpu)
    trades_peer = count_rows(work / f"{workload.name}-peer-0" / "trades.csv")
    target = TARGETS[workload.name]
    width = max(len(label) for label in [*labels, "backtesting.py"])
    print(f"\n{workload.name}: whole process, median of {repeat} alternating runs")
    runs = ", ".join(f"{s:.2f}" for s in peer_s)
    print(f"  {'backtesting.py':<{width}}  {peer:7.2f} s  CPU {cpu_peer:6.2f} s  ({runs})")
    for number, label in enumerate(labels):
        ours, cpu_ours = statistics.median(ours_s[label]), statistics.median(ours_cpu[label])
        runs = ", ".join(f"{s:.2f}" for s in ours_s[label])
        print(f"  {label:<{width}}  {ours:7.2f} s  CPU {cpu_ours:6.2f} s  ({runs})")
        print(
            f"  {'':<{width}}  speed-up {peer / ours:.2f}x wall, {cpu_peer / cpu_ours:.2f}x CPU "
            f"(process trees, user + system): {verdict(peer / ours, target)}"
        )
        if workload.name == "trend_pullback":
            met = "meets" if ours < TREND_PULLBACK_TARGET_S else "MISSES"
            goal = f"the < {TREND_PULLBACK_TARGET_S:g} s target"
            print(f"  {'':<{width}}  whole run {ours:.2f} s: {met} {goal}")
        trades = count_rows(work / f"{workload.name}-ours{number}-0" / "trades.csv")
        same = "the same" if trades == trades_peer else "DIFFERENT"
        print(f"  {'':<{width}}  trades {trades} vs backtesting.py's {trades_peer}: {same}")
    trade_files = [
        (work / f"{workload.name}-ours{number}-0" / "trades.csv").read_bytes()
        for number in range(len(labels))
    ]
    if len(trade_files) > 1:
        same = "byte for byte the same" if len(set(trade_files)) == 1 else "DIFFERENT"
        print(f"  trades.csv of the {len(labels)} strategylab forms: {same}")


def tree_rss_mb(root_pid: int) -> tuple[float, float]:
    """Resident set of a process and of all its descendants (summed), in MB (Linux /proc)."""
    parents: dict[int, int] = {}
    rss_kb: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "status").read_text(encoding="utf-8")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
        rss_kb[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0])
    tree = {root_pid}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    descendants = sum(rss_kb.get(pid, 0) for pid in tree if pid != root_pid)
    return rss_kb.get(root_pid, 0) / 1024, descendants / 1024


def high_water_mb(pid: int) -> float:
    """A process's own peak resident set so far (VmHWM: every peak, even one shorter than the
    10 ms between samples), in MB; 0 once it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    except OSError:
        return 0.0
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    return int(fields.get("VmHWM", "0 kB").split()[0]) / 1024


def peak_memory(work: Path) -> None:
    csv_path = work / f"sma-{MEMORY_BARS}.csv"
    make_bars(MEMORY_BARS).to_csv(csv_path)
    source = work / "sma_crossover.py"
    source.write_text(SMA_SOURCE, encoding="utf-8")
    command = [str(STRATEGYLAB), "run", str(source), "--data", str(csv_path), *TERMS]
    command += ["--out", str(work / "memory-run"), "--memory-mb", "2048"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    cli_peak = worker_peak = tree_peak = cli_hwm = 0.0
    while process.poll() is None:
        cli, worker = tree_rss_mb(process.pid)
        cli_peak, worker_peak = max(cli_peak, cli), max(worker_peak, worker)
        tree_peak = max(tree_peak, cli + worker)
        cli_hwm = max(cli_hwm, high_water_mb(process.pid))
        time.sleep(0.01)
    if process.returncode != 0:
        raise SystemExit(f"memory run failed: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    print(f"\npeak RSS, {MEMORY_BARS:,} bars, `strategylab run` (sampled every 10 ms):")
    print(f"  CLI process       {cli_peak:7.0f} MB   (its own peak, VmHWM: {cli_hwm:.0f} MB)")
    print(f"  sandbox worker    {worker_peak:7.0f} MB   (its descendants, summed)")
    print(f"  process tree      {tree_peak:7.0f} MB   (target < {MEMORY_TARGET_MB} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=sorted(TARGETS))
    parser.add_argument(
        "--sma-form",
        choices=["both", *SMA_FORMS],
        default="both",
        help="which form of the SMA crossover to run (default both, side by side)",
    )
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-only", action="store_true", help="only the 1M-bar peak RSS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-whole-run-") as folder:
        work = Path(folder)
        builders = {"sma": sma_workload, "trend_pullback": trend_pullback_workload}
        forms = list(SMA_FORMS) if args.sma_form == "both" else [args.sma_form]
        for name, build in builders.items():
            if args.only in (None, name) and not args.memory_only:
                compare(build(work, forms), work, args.repeat)
        if not args.skip_memory:
            peak_memory(work)


if __name__ == "__main__":
    main()
