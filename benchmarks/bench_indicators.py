"""Every pandas-ta indicator by name: Strategy Lab's fast path vs pandas-ta on the same bars.

    .venv/bin/python benchmarks/bench_indicators.py                  # 1,000,000 bars, all
    .venv/bin/python benchmarks/bench_indicators.py --bars 200000    # quicker; times scaled
    .venv/bin/python benchmarks/bench_indicators.py --only supertrend --only vwap
    .venv/bin/python benchmarks/bench_indicators.py --slow-only     # skip the fast ones

The bars are a seeded 1-minute random walk (`make_bars` of bench_sma_crossover). Each
indicator runs with its default settings: first on 2,000 bars (numba compiles or loads its
kernels there, as `strategylab warm-indicators` does at setup), then once timed on `--bars`.
Both times are CPU seconds of this process (`time.process_time`, so other jobs on a shared
machine do not inflate them), printed per 1,000,000 bars (scaled linearly from `--bars`),
with the maximum
relative difference between the two outputs (`|a - b| / max(|b|, 1e-300)` over the bars
where both are numbers; NaN positions must match exactly, or the row says "NaN mismatch").
"ours" is blank where the indicator has no fast implementation: the engine then calls
pandas-ta itself. Indicators that always look ahead (refused by the engine) are skipped.
The target: every indicator under 0.5 s per 1,000,000 bars on the engine's path.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_ta.maps

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.engine.fast_indicators import compute_fast, fast_indicator_names  # noqa: E402
from app.engine.fast_indicators.candles import (  # noqa: E402
    has_talib,
    keep_pandas_ta_off_talib,
)
from app.engine.feed import FloatArray  # noqa: E402
from app.engine.indicators import ALWAYS_LOOK_AHEAD, indicator_names  # noqa: E402
from benchmarks.bench_sma_crossover import make_bars  # noqa: E402

TARGET_S_PER_MILLION = 0.5
TALIB_REFERENCE = frozenset({"cdl_pattern"})
WARM_BARS = 2_000
Columns = dict[str, FloatArray]


def run_pandas_ta(frame: pd.DataFrame, name: str) -> Columns | None:
    """pandas-ta's own output with default settings, as float64 columns (None: no output).
    Candle patterns are compared with pandas-ta's TA-Lib branch, which the engine reproduces
    (the engine keeps TA-Lib switched off for every other indicator)."""
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        pandas_ta.maps.Imports["talib"] = name in TALIB_REFERENCE and has_talib()
        try:
            result = getattr(frame.ta, name)()
        except Exception:  # a broken indicator is reported as such, not fatal
            return None
        finally:
            keep_pandas_ta_off_talib()
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, pd.Series):
        result = result.to_frame(name=str(result.name or name))
    if not isinstance(result, pd.DataFrame) or result is frame:
        return None
    return {
        str(c): pd.to_numeric(result[c], errors="coerce").to_numpy(dtype=np.float64)
        for c in result.columns
    }


def run_ours(frame: pd.DataFrame, name: str) -> Columns | None:
    with np.errstate(all="ignore"):
        return compute_fast(frame, name, {})


def max_relative_difference(ours: Columns, theirs: Columns) -> str:
    """The largest relative difference over all columns, or why they cannot be compared."""
    if list(ours) != list(theirs):
        return f"columns differ: {list(ours)} vs {list(theirs)}"
    worst = 0.0
    for column, expected in theirs.items():
        got = ours[column]
        if not np.array_equal(np.isnan(got), np.isnan(expected)):
            return f"NaN mismatch in {column}"
        both = ~np.isnan(expected)
        if both.any():
            scale = np.maximum(np.abs(expected[both]), 1e-300)
            worst = max(worst, float(np.max(np.abs(got[both] - expected[both]) / scale)))
    return f"{worst:.1e}"


def timed(
    run: Callable[[pd.DataFrame, str], Columns | None], frame: pd.DataFrame, name: str
) -> tuple[Columns | None, float]:
    """The run's result and its CPU seconds."""
    started = time.process_time()
    result = run(frame, name)
    return result, time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument(
        "--slow-only",
        action="store_true",
        help="only indicators with a fast implementation",
    )
    args = parser.parse_args()
    names = [n for n in indicator_names() if n not in ALWAYS_LOOK_AHEAD]
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            parser.error(f"unknown indicator(s): {', '.join(unknown)}")
        names = [n for n in names if n in args.only]
    if args.slow_only:
        names = [n for n in names if n in fast_indicator_names()]
    warm, frame = make_bars(WARM_BARS), make_bars(args.bars)
    scale = 1_000_000 / args.bars
    print(f"{args.bars:,} bars; seconds per 1,000,000 bars (scaled x{scale:g})")
    print(f"{'indicator':<16}{'pandas-ta s':>12}{'ours s':>10}{'speed-up':>10}  max rel diff")
    over_target: list[str] = []
    for name in names:
        run_pandas_ta(warm, name)
        theirs, their_s = timed(run_pandas_ta, frame, name)
        their_text = f"{their_s * scale:12.3f}" if theirs is not None else f"{'fails':>12}"
        ours: Columns | None = None
        if name in fast_indicator_names():
            run_ours(warm, name)
            ours, our_s = timed(run_ours, frame, name)
        if ours is None:
            engine_s = their_s
            print(f"{name:<16}{their_text}{'':>10}{'':>10}")
        else:
            engine_s = our_s
            diff = max_relative_difference(ours, theirs) if theirs is not None else "-"
            speed_up = f"{their_s / our_s:9.0f}x" if our_s > 0 else ""
            print(f"{name:<16}{their_text}{our_s * scale:10.3f}{speed_up:>10}  {diff}")
        if theirs is not None and engine_s * scale > TARGET_S_PER_MILLION:
            over_target.append(name)
        sys.stdout.flush()
    print(f"over {TARGET_S_PER_MILLION} s per 1M bars on the engine's path: {len(over_target)}")
    if over_target:
        print("  " + ", ".join(over_target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
