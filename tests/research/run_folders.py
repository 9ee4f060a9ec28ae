"""Small run folders written by hand (the files `strategylab run --out` writes, with the same
columns and formats), so research tests need no backtest."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.engine.metrics import NS_PER_DAY
from app.runs.folder import EQUITY_COLUMNS, TRADE_COLUMNS, format_numbers, format_times

T0 = 1_672_531_200_000_000_000  # 2023-01-01T00:00:00Z


def write_folder(
    folder: Path,
    *,
    equity: Sequence[float],
    pnl: Sequence[float] = (),
    initial: float = 10_000.0,
    bar_ns: int = NS_PER_DAY,
    days_per_year: int = 365,
) -> Path:
    """A run folder with one equity mark per bar (`bar_ns` apart from T0) and one trade per
    pnl, the trades closing at evenly spread bars, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    times = T0 + bar_ns * np.arange(len(equity), dtype=np.int64)
    zeros = format_numbers(np.zeros(len(equity)))
    columns = [format_times(times), zeros, zeros, zeros, format_numbers(equity), zeros]
    rows = [",".join(row) for row in zip(*columns, strict=True)]
    (folder / "equity.csv").write_text(
        ",".join(EQUITY_COLUMNS) + "\n" + "".join(f"{row}\n" for row in rows), encoding="utf-8"
    )
    exits = [int(i) for i in np.linspace(1, len(equity) - 1, num=len(pnl)).astype(np.int64)]
    trade_rows = [
        ",".join(
            (
                format_times([int(times[i - 1])])[0],
                format_times([int(times[i])])[0],
                "long",
                "1.0",
                "100.0",
                "101.0",
                repr(float(value)),
                "0.1",
                "signal",
            )
        )
        for i, value in zip(exits, pnl, strict=True)
    ]
    (folder / "trades.csv").write_text(
        ",".join(TRADE_COLUMNS) + "\n" + "".join(f"{row}\n" for row in trade_rows),
        encoding="utf-8",
    )
    metrics = {
        "metrics": {"initial_equity": initial, "final_equity": float(equity[-1])},
        "conventions": {"annualisation_days": days_per_year, "risk_free_rate": 0.0},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (folder / "provenance.json").write_text(json.dumps({"params": {}}), encoding="utf-8")
    return folder


def random_walk(days: int, *, seed: int = 3, initial: float = 10_000.0) -> list[float]:
    """Daily equity marks of a random walk of +-1 % steps (mean +0.05 %)."""
    rng = np.random.default_rng(seed)
    return list(initial * np.cumprod(1 + rng.normal(0.0005, 0.01, days)))
