"""A run's output folder: trades.csv, orders.csv, equity.csv, metrics.json, log.txt and
provenance.json, written byte-for-byte the same for the same run."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from app.engine import RunResult, ns_to_iso

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "side",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "fees",
    "exit_reason",
)
ORDER_COLUMNS = (
    "id",
    "created_time",
    "side",
    "type",
    "amount",
    "limit_price",
    "stop_price",
    "leverage",
    "stop_loss",
    "take_profit",
    "status",
    "filled_time",
    "filled_price",
    "filled_amount",
    "fee",
    "reason",
)
EQUITY_COLUMNS = ("time", "cash", "margin", "unrealized_pnl", "equity", "position")
TIME_METRICS = ("start", "end")


def _number(value: float | None) -> str:
    """Shortest round-tripping text for a float; empty for None."""
    if value is None:
        return ""
    return repr(float(value))


def _time(value: int | None) -> str:
    return "" if value is None else ns_to_iso(value)


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def trade_rows(result: RunResult) -> Iterable[list[str]]:
    for t in result.trades:
        yield [
            _time(t.entry_time),
            _time(t.exit_time),
            t.side.value,
            _number(t.size),
            _number(t.entry_price),
            _number(t.exit_price),
            _number(t.pnl),
            _number(t.fees),
            t.exit_reason.value,
        ]


def order_rows(result: RunResult) -> Iterable[list[str]]:
    for o in result.orders:
        yield [
            str(o.id),
            _time(o.created_time),
            o.side.value,
            o.type.value,
            _number(o.amount),
            _number(o.limit_price),
            _number(o.stop_price),
            _number(o.leverage),
            _number(o.stop_loss),
            _number(o.take_profit),
            o.status.value,
            _time(o.filled_time),
            _number(o.filled_price),
            _number(o.filled_amount),
            _number(o.fee),
            o.reason,
        ]


def equity_rows(result: RunResult) -> Iterable[list[str]]:
    curve = result.equity
    columns = (
        curve.cash.tolist(),
        curve.margin.tolist(),
        curve.unrealized.tolist(),
        curve.equity.tolist(),
        curve.position.tolist(),
    )
    for position, time in enumerate(curve.time.tolist()):
        yield [ns_to_iso(time), *(repr(column[position]) for column in columns)]


def metrics_document(result: RunResult) -> dict[str, Any]:
    """metrics.json: the figures plus the conventions they were computed with."""
    figures: dict[str, Any] = {}
    for name, value in result.metrics.items():
        if name in TIME_METRICS and isinstance(value, int):
            figures[name] = ns_to_iso(value)
        elif isinstance(value, float) and not math.isfinite(value):
            figures[name] = None
        else:
            figures[name] = value
    return {
        "metrics": figures,
        "conventions": {
            "daily_returns": "changes between consecutive UTC day-end equities",
            "annualisation_days": result.config.trading_days_per_year,
            "sharpe": "mean / sample std (ddof=1) x sqrt(annualisation_days)",
            "sortino": "downside deviation = RMS of min(return, 0) over all days",
            "max_drawdown": "bar-by-bar marked-to-market equity",
            "risk_free_rate": result.config.risk_free_rate,
            "price_source": result.price_source,
        },
    }


def log_lines(result: RunResult) -> Iterable[str]:
    for line in result.logs:
        yield f"{ns_to_iso(line.time)} bar={line.bar_index} {line.level.value}: {line.message}"
    if result.logs_dropped:
        yield f"... {result.logs_dropped} more lines dropped (limit {result.config.max_log_lines})"


def write_run_folder(result: RunResult, out_dir: Path, provenance: dict[str, Any]) -> list[Path]:
    """Write every output file of a run into `out_dir` (created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        name: out_dir / name
        for name in (
            "trades.csv",
            "orders.csv",
            "equity.csv",
            "metrics.json",
            "log.txt",
            "provenance.json",
        )
    }
    _write_csv(paths["trades.csv"], TRADE_COLUMNS, trade_rows(result))
    _write_csv(paths["orders.csv"], ORDER_COLUMNS, order_rows(result))
    _write_csv(paths["equity.csv"], EQUITY_COLUMNS, equity_rows(result))
    paths["metrics.json"].write_text(
        json.dumps(metrics_document(result), indent=2, sort_keys=False) + "\n", encoding="utf-8"
    )
    paths["log.txt"].write_text(
        "".join(f"{line}\n" for line in log_lines(result)), encoding="utf-8"
    )
    paths["provenance.json"].write_text(
        json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return list(paths.values())
