"""SMA crossover speed: strategylab vs backtesting.py on the same synthetic 1-minute bars, and
strategylab's peak memory on 1,000,000 bars.

    .venv/bin/python benchmarks/bench_sma_crossover.py            # 525,600 bars, both engines
    .venv/bin/python benchmarks/bench_sma_crossover.py --bars 100000 --repeat 1 --skip-memory

Each engine is warmed up on 5,000 bars, then timed `--repeat` times, alternating between the
engines so a busy machine slows both alike (the best run of each is shown); a run's seconds
cover everything after the data is loaded: indicators, the bar loop, results.

The memory figure is the peak resident set size of a fresh process that builds 1,000,000 bars
and runs the strategy in it (imports and the data included), with the run's own peak of
allocations (tracemalloc, measured in a second process) beside it. Reusable pieces for other
benchmarks (e.g. the sandboxed run): `make_bars(n)`, `SMA_SOURCE`, `SMA_CONFIG`,
`load_strategy(source)`, `run_backtesting_py(frame)`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

os.environ.setdefault("TQDM_DISABLE", "1")  # backtesting.py's progress bar, not a result
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.engine import (  # noqa: E402 - the path above makes the repo importable as a script
    MarketData,
    RunConfig,
    Strategy,
    crossover,
    run_backtest,
)

YEAR_OF_MINUTES = 525_600
MEMORY_BARS = 1_000_000
MEMORY_LIMIT_MB = 500
TARGET_SPEEDUP = 3.0
FAST, SLOW = 10, 30
# backtesting.py's terms: enough cash for 1 unit, no fees or funding, no leverage.
SMA_CONFIG = RunConfig(
    cash=1_000_000.0, fee_maker=0.0, fee_taker=0.0, funding_rate=0.0, leverage_max=1.0
)

# The strategy as a user writes it (Strategy and crossover are pre-injected names).
SMA_SOURCE = f"""
class SmaCross(Strategy):
    params = {{"fast": {FAST}, "slow": {SLOW}}}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(1.0)
"""
# The same strategy as the bundled example writes it (strategies_examples/sma_crossover.py):
# its two signals declared, so on_data runs on the crossing and fill bars only, with the same
# trades to the byte (docs/engine.md, "Wake-ups").
WAKE_ON_LINE = '        self.wake_on("cross", self.fast, self.slow)\n'
_SLOW_LINE = '        self.slow = self.indicator("sma", length=self.params["slow"])\n'
SMA_WAKE_ON_SOURCE = SMA_SOURCE.replace(_SLOW_LINE, _SLOW_LINE + WAKE_ON_LINE)
SMA_FORMS: dict[str, tuple[str, str]] = {
    "wake_on": ("SMA crossover as the bundled example writes it (wake_on)", SMA_WAKE_ON_SOURCE),
    "every-bar": ("SMA crossover, on_data on every bar", SMA_SOURCE),
}
"""Form name -> (the label benchmarks print, the strategy source): both make the same trades."""


def make_bars(n: int, *, seed: int = 42, start_price: float = 30_000.0) -> pd.DataFrame:
    """`n` seeded 1-minute OHLCV bars (UTC index "time") of a BTC-like random walk."""
    rng = np.random.default_rng(seed)
    closes = start_price * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    opens = np.concatenate(([start_price], closes[:-1]))
    highs = np.maximum(opens, closes) * np.exp(np.abs(rng.normal(0.0, 0.0004, n)))
    lows = np.minimum(opens, closes) * np.exp(-np.abs(rng.normal(0.0, 0.0004, n)))
    index = pd.date_range("2023-01-01", periods=n, freq="1min", tz="UTC", name="time")
    return pd.DataFrame(
        {
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes,
            "volume": rng.uniform(1.0, 50.0, n),
        },
        index=index,
    )


def load_strategy(source: str = SMA_SOURCE) -> type[Strategy]:
    """The Strategy subclass defined by `source` (in-process, trusted benchmark code)."""
    namespace: dict[str, object] = {"Strategy": Strategy, "crossover": crossover}
    exec(compile(source, "<sma_crossover>", "exec"), namespace)
    found = [
        v
        for v in namespace.values()
        if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy
    ]
    return found[0]


def run_strategylab(frame: pd.DataFrame) -> tuple[float, int, float]:
    """Seconds for the whole in-process run (indicators, loop, results), trades, final equity."""
    market = MarketData.from_frame(frame)
    strategy = load_strategy()
    started = time.perf_counter()
    result = run_backtest(strategy, market, SMA_CONFIG)
    seconds = time.perf_counter() - started
    return seconds, len(result.trades), float(result.equity.equity[-1])


def run_backtesting_py(frame: pd.DataFrame) -> tuple[float, int, float]:
    """The same strategy in backtesting.py (next-open fills, trades closed at the end)."""
    import pandas_ta as ta
    from backtesting import Backtest
    from backtesting import Strategy as BtStrategy
    from backtesting.lib import crossover as bt_crossover

    def sma(values: npt.NDArray[np.float64], length: int) -> npt.NDArray[np.float64]:
        return ta.sma(pd.Series(values), length).to_numpy(dtype=np.float64)

    class BtSmaCross(BtStrategy):  # type: ignore[misc]
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if bt_crossover(self.fast, self.slow):
                self.position.close()
                self.buy(size=1)
            elif bt_crossover(self.slow, self.fast):
                self.position.close()
                self.sell(size=1)

    data = frame.rename(columns=str.capitalize)
    data.index = pd.DatetimeIndex(data.index).tz_localize(None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        backtest = Backtest(
            data, BtSmaCross, cash=1_000_000.0, commission=0.0, finalize_trades=True
        )
        started = time.perf_counter()
        stats = backtest.run()
        seconds = time.perf_counter() - started
    return seconds, int(stats["# Trades"]), float(stats["Equity Final [$]"])


def alternate(repeat: int, frame: pd.DataFrame) -> tuple[float, int, float, float, int, float]:
    """The fastest of `repeat` runs of each engine (seconds, trades, final equity), timeit
    style; runs alternate between the engines so a busy machine slows both alike."""
    ours: list[tuple[float, int, float]] = []
    theirs: list[tuple[float, int, float]] = []
    for _ in range(max(repeat, 1)):
        ours.append(run_strategylab(frame))
        theirs.append(run_backtesting_py(frame))
    return (*min(ours, key=lambda run: run[0]), *min(theirs, key=lambda run: run[0]))


def peak_memory_mb(bars: int, *, traced: bool = False) -> dict[str, float]:
    """Peak RSS (MB) of a fresh process that makes `bars` bars and runs strategylab on them;
    with `traced`, also the run's own peak of Python allocations (tracemalloc, which slows
    the run and inflates RSS, so it is a separate process)."""
    command = [sys.executable, __file__, "--memory-child", str(bars)]
    output = subprocess.run(
        [*command, "--traced"] if traced else command,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _memory_child(bars: int, traced: bool) -> None:
    frame = make_bars(bars)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    if traced:
        tracemalloc.start()
    seconds, trades, _ = run_strategylab(frame)
    run_peak = tracemalloc.get_traced_memory()[1] / 2**20 if traced else 0.0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "peak_rss_mb": peak,
                "rss_before_run_mb": before,
                "seconds": seconds,
                "trades": trades,
                "run_traced_peak_mb": run_peak,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=YEAR_OF_MINUTES)
    parser.add_argument("--memory-bars", type=int, default=MEMORY_BARS)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per engine (best)")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        _memory_child(args.memory_child, args.traced)
        return

    frame = make_bars(args.bars)
    warm_up = frame.iloc[:5_000]  # first-call costs (imports, pandas-ta set-up) stay out
    run_strategylab(warm_up)
    run_backtesting_py(warm_up)
    ours, our_trades, our_equity, theirs, their_trades, their_equity = alternate(args.repeat, frame)
    print(
        f"SMA crossover {FAST}/{SLOW} on {args.bars:,} 1-minute bars, best of {args.repeat} "
        "alternating warm runs each"
    )
    print(f"{'engine':<16}{'seconds':>10}{'bars/s':>14}{'trades':>9}{'final equity':>16}")
    for name, seconds, trades, equity in (
        ("strategylab", ours, our_trades, our_equity),
        ("backtesting.py", theirs, their_trades, their_equity),
    ):
        print(f"{name:<16}{seconds:>10.2f}{args.bars / seconds:>14,.0f}{trades:>9}{equity:>16,.2f}")
    ratio = theirs / ours
    verdict = "meets" if ratio >= TARGET_SPEEDUP else "MISSES"
    print(
        f"speed ratio: strategylab is {ratio:.1f}x faster ({verdict} the "
        f"{TARGET_SPEEDUP:g}x target)"
    )
    if not args.skip_memory:
        memory = peak_memory_mb(args.memory_bars)
        traced = peak_memory_mb(args.memory_bars, traced=True)["run_traced_peak_mb"]
        verdict = "meets" if memory["peak_rss_mb"] < MEMORY_LIMIT_MB else "MISSES"
        print(
            f"peak memory, {args.memory_bars:,} bars: {memory['peak_rss_mb']:.0f} MB RSS for "
            f"the whole process ({verdict} the {MEMORY_LIMIT_MB} MB target); "
            f"{memory['rss_before_run_mb']:.0f} MB of it is imports and the generated data; "
            f"the run's own peak allocations {traced:.0f} MB (tracemalloc); "
            f"run {memory['seconds']:.2f} s"
        )


if __name__ == "__main__":
    main()
