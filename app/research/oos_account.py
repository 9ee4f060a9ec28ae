"""The stitched out-of-sample account of a walk-forward: the test runs of its folds, one after
the other, as one continuous account, and its metrics and files.

Each fold's test run starts with the equity the previous fold's test run ended with (the first
with the run's cash) and ends flat: the engine closes what is open at the test window's last
bar, as a trader switching params at the fold boundary would. So the equity at the first bar of
fold k+1 equals fold k's final equity, and the stitched curve has no jump. Metrics are the
engine's (`app.engine.metrics.compute_metrics`, same conventions), over the stitched bars.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.engine import MarketData, RunResult
from app.engine.feed import FloatArray, IntArray
from app.engine.metrics import MetricValue, compute_metrics, daily_returns
from app.engine.types import Trade
from app.runs.folder import EQUITY_COLUMNS, TRADE_COLUMNS, equity_columns, trade_columns


@dataclass(frozen=True, slots=True)
class FoldRun:
    """One fold's out-of-sample (test) run."""

    fold: int
    result: RunResult


@dataclass(frozen=True, slots=True)
class StitchedAccount:
    """The test runs as one account: bar-by-bar curve, trades in order, and metrics."""

    runs: tuple[FoldRun, ...]
    time: IntArray
    equity: FloatArray
    fold_of_bar: IntArray
    trades: tuple[Trade, ...]
    metrics: dict[str, MetricValue]

    @property
    def daily_returns(self) -> FloatArray:
        """Changes between consecutive UTC day-end equities of the stitched curve."""
        return daily_returns(self.time, self.equity)


def stitch(runs: Sequence[FoldRun], market: MarketData, *, initial_cash: float) -> StitchedAccount:
    """The fold runs (in fold order, each started with the previous one's final equity) as one
    account starting from `initial_cash`. With no runs the account is empty."""
    config = runs[0].result.config if runs else None
    curves = [run.result.equity for run in runs]
    time = _concat([c.time for c in curves], np.int64)
    equity = _concat([c.equity for c in curves], np.float64)
    position = _concat([c.position for c in curves], np.float64)
    folds = _concat(
        [np.full(len(c.time), run.fold) for run, c in zip(runs, curves, strict=True)], np.int64
    )
    trades = tuple(trade for run in runs for trade in run.result.trades)
    closes = market.close[np.searchsorted(market.time, time)] if len(time) else np.empty(0)
    metrics = compute_metrics(
        initial=initial_cash,
        times=time,
        equity=equity,
        exposed=position != 0.0,
        trades=trades,
        closes=closes,
        bar_ns=market.bar_ns,
        days_per_year=config.trading_days_per_year if config else 365,
        risk_free_rate=config.risk_free_rate if config else 0.0,
        fees_paid=sum(_number(run.result.metrics.get("fees_paid")) for run in runs),
        funding_paid=sum(_number(run.result.metrics.get("funding_paid")) for run in runs),
        liquidations=sum(int(_number(run.result.metrics.get("liquidations"))) for run in runs),
    )
    return StitchedAccount(tuple(runs), time, equity, folds, trades, metrics)


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:  # type: ignore[type-arg]
    return np.concatenate(parts).astype(dtype) if parts else np.empty(0, dtype=dtype)


def _number(value: MetricValue) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def write_stitched_equity(account: StitchedAccount, path: Path) -> Path:
    """equity.csv: `fold` then the run folder's equity columns, every stitched bar."""
    _write_fold_rows(
        path, EQUITY_COLUMNS, [(r.fold, equity_columns(r.result)) for r in account.runs]
    )
    return path


def write_stitched_trades(account: StitchedAccount, path: Path) -> Path:
    """trades.csv: `fold` then the run folder's trade columns, every out-of-sample trade."""
    _write_fold_rows(path, TRADE_COLUMNS, [(r.fold, trade_columns(r.result)) for r in account.runs])
    return path


def _write_fold_rows(
    path: Path, header: Sequence[str], parts: list[tuple[int, list[list[str]]]]
) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("fold", *header))
        for fold, columns in parts:
            label = str(fold)
            writer.writerows((label, *row) for row in zip(*columns, strict=True))
