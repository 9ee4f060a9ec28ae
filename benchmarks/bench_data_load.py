"""Benchmark: load one month of 1m bars out of a five-year dataset, next to loading it all.

Generates five years of synthetic 1m bars (2019-2023, about 2.6 million rows) into a store in a
temporary folder, then times `DatasetStore.load` for one month (row-group pushdown) and for
the whole file, best of several runs. Target: one month under 100 ms.

    .venv/bin/python benchmarks/bench_data_load.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from app.data.problems import ValidationReport
from app.data.samples import generate_ohlcv
from app.data.store import DatasetSpec, DatasetStore

FIVE_YEARS_1M = 1826 * 1440  # 2019-01-01 .. 2023-12-31, one leap day
MONTH_START = pd.Timestamp("2022-06-01", tz="UTC")
MONTH_END = pd.Timestamp("2022-07-01", tz="UTC")
RUNS = 7
TARGET_S = 0.100


def best_and_median(
    action: Callable[[], pd.DataFrame], runs: int = RUNS
) -> tuple[float, float, int]:
    """Seconds of the fastest and the median run, and the rows the action returned."""
    timings = []
    rows = 0
    for _ in range(runs):
        began = time.perf_counter()
        rows = len(action())
        timings.append(time.perf_counter() - began)
    return min(timings), statistics.median(timings), rows


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-data-") as folder:
        began = time.perf_counter()
        bars = generate_ohlcv(bars=FIVE_YEARS_1M, start="2019-01-01", seed=7)
        store = DatasetStore(Path(folder) / "store")
        spec = DatasetSpec(symbol="BTCUSDT", timeframe="1m", source="benchmark")
        meta = store.save(bars, spec, validation=ValidationReport()).meta
        setup_s = time.perf_counter() - began
        path = store.data_path(meta)
        metadata = pq.ParquetFile(path).metadata
        size_mb = path.stat().st_size / 1e6
        del bars
        month = best_and_median(lambda: store.load(meta, start=MONTH_START, end=MONTH_END))
        whole = best_and_median(lambda: store.load(meta))
    print(
        f"dataset: {meta.rows:,} 1m bars, {size_mb:.0f} MB Parquet, "
        f"{metadata.num_row_groups} row groups, generated and stored in {setup_s:.1f} s"
    )
    print(f"{'read':<34}{'rows':>12}{'best ms':>10}{'median ms':>11}")
    for label, (best_s, median_s, rows) in (
        ("one month (2022-06), row groups", month),
        ("whole file", whole),
    ):
        print(f"{label:<34}{rows:>12,}{best_s * 1e3:>10.1f}{median_s * 1e3:>11.1f}")
    verdict = "meets" if month[1] < TARGET_S else "MISSES"
    print(
        f"one-month median {month[1] * 1e3:.1f} ms {verdict} the {TARGET_S * 1e3:.0f} ms target "
        f"({whole[1] / month[1]:.0f}x faster than the whole file)"
    )
    return 0 if month[1] < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
