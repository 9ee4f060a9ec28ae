"""A report as a JSON document and as Markdown, with the same figures as the HTML report.

The JSON document is the reference form: metrics exactly as metrics.json holds them (with
each one's convention beside it), times as ISO 8601 UTC, returns as fractions, money in quote
units. Markdown escapes every piece of run text (strategy names, params, log lines) so that
neither a table nor a renderer that passes HTML through can be broken by it.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from app import strict_json
from app.engine.feed import FloatArray, ns_to_iso
from app.engine.metrics import day_end_indices
from app.research.equity_analysis import Histogram
from app.research.report import Report
from app.research.report_charts import MONTHS
from app.research.report_sections import ResearchSection, flatten

DOCUMENT_VERSION = 1
MARKDOWN_SPECIALS = re.compile(r"[\\`*_\[\]|~]")
MARKDOWN_TRADES = 200


def display(value: Any, *, is_fraction: bool = False) -> str:
    """A figure as shown to a reader: fractions as percent, None as '-', large numbers with
    separators, others with up to 6 significant digits."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        if is_fraction:
            return f"{value * 100:,.2f} %"
        return f"{value:,.2f}" if abs(value) >= 1_000 else f"{value:.6g}"
    return str(value)


def _distribution(values: FloatArray, counts: Histogram) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    return {
        "count": len(finite),
        "mean": float(finite.mean()) if len(finite) else None,
        "std": float(finite.std(ddof=1)) if len(finite) > 1 else None,
        "min": float(finite.min()) if len(finite) else None,
        "max": float(finite.max()) if len(finite) else None,
        "histogram": {"edges": counts.edges.tolist(), "counts": counts.counts.tolist()},
    }


def _isos(times: Iterable[int]) -> list[str]:
    return [ns_to_iso(int(t)) for t in times]


def trade_rows(report: Report) -> list[dict[str, Any]]:
    """trades.csv's rows with each trade's return (pnl / (size x entry price))."""
    trades = report.trades
    return [
        {
            "entry_time": ns_to_iso(int(trades.entry_time[i])),
            "exit_time": ns_to_iso(int(trades.exit_time[i])),
            "side": trades.side[i],
            "size": float(trades.size[i]),
            "entry_price": float(trades.entry_price[i]),
            "exit_price": float(trades.exit_price[i]),
            "pnl": float(trades.pnl[i]),
            "fees": float(trades.fees[i]),
            "return": float(report.trade_returns[i]),
            "exit_reason": trades.exit_reason[i],
        }
        for i in range(len(trades))
    ]


def day_end_series(report: Report) -> dict[str, list[Any]]:
    """Equity, drawdown and buy-and-hold at each UTC day end (the curve the daily returns
    are taken from)."""
    positions = day_end_indices(report.time)
    series: dict[str, list[Any]] = {
        "time": _isos(report.time[positions].tolist()),
        "equity": report.equity[positions].tolist(),
        "drawdown": report.drawdown[positions].tolist(),
    }
    if report.buy_and_hold is not None:
        series["buy_and_hold"] = report.buy_and_hold[positions].tolist()
    return series


def section_document(section: ResearchSection) -> dict[str, Any]:
    """A research section as plain data."""
    return {
        "kind": section.kind,
        "title": section.title,
        "source": section.source,
        "summary": dict(section.summary),
        "overfitting": dict(section.overfitting),
        "meaning": section.meaning,
        "tables": [
            {"title": t.title, "columns": list(t.columns), "rows": [list(r) for r in t.rows]}
            for t in section.tables
        ],
        "notes": list(section.notes),
    }


def report_document(report: Report) -> dict[str, Any]:
    """The whole report as a JSON-ready document (see the module docstring)."""
    buy_and_hold = report.buy_and_hold
    return {
        "report_version": DOCUMENT_VERSION,
        "title": report.title,
        "run_dir": report.run_dir,
        "strategy": report.strategy,
        "params": report.params,
        "settings": report.settings,
        "provenance": report.provenance,
        "metrics": {entry.name: entry.value for entry in report.metrics},
        "metric_conventions": {entry.name: entry.convention for entry in report.metrics},
        "conventions": report.conventions,
        "buy_and_hold": {
            "source": report.buy_and_hold_note,
            "return": float(buy_and_hold[-1] / buy_and_hold[0] - 1.0)
            if buy_and_hold is not None and len(buy_and_hold)
            else None,
        },
        "drawdowns": [
            {
                "depth": period.depth,
                "peak": ns_to_iso(period.peak_time),
                "trough": ns_to_iso(period.trough_time),
                "recovery": ns_to_iso(period.recovery_time) if period.recovery_time else None,
                "days": period.days,
            }
            for period in report.drawdowns
        ],
        "monthly_returns": [
            {"year": m.year, "month": m.month, "return": m.value} for m in report.monthly
        ],
        "yearly_returns": [{"year": y.year, "return": y.value} for y in report.yearly],
        "rolling": {
            "window_days": report.rolling.window_days,
            "time": _isos(report.rolling.time.tolist()),
            "sharpe": report.rolling.sharpe.tolist(),
            "volatility": report.rolling.volatility.tolist(),
        },
        "daily_returns": _distribution(report.daily_returns, report.daily_histogram),
        "trade_returns": _distribution(report.trade_returns, report.trade_histogram),
        "day_end_equity": day_end_series(report),
        "costs": {
            "fees_paid": report.costs.fees_paid,
            "funding_paid": report.costs.funding_paid,
            "liquidations": report.costs.liquidations,
            "trade_fees": report.costs.trade_fees,
            "gross_pnl": report.costs.gross_pnl,
            "net_pnl": report.costs.net_pnl,
            "by_exit_reason": [
                {"reason": s.reason, "trades": s.trades, "pnl": s.pnl, "fees": s.fees}
                for s in report.costs.by_exit_reason
            ],
        },
        "trades": trade_rows(report),
        "log": {"lines": list(report.log_lines), "total": report.log_total},
        "sections": [section_document(section) for section in report.sections],
    }


def render_json(report: Report) -> str:
    """The report document as strict JSON text (no NaN or Infinity: they become null)."""
    return strict_json.dumps(report_document(report), indent=2) + "\n"


def md_cell(value: Any, *, is_fraction: bool = False) -> str:
    """Text for Markdown, inline and on one line: HTML escaped (no tag or entity of the run's
    reaches a renderer), and the characters that make links, emphasis, code or table cells
    (`[ ] * _ ` ~ | \\`) backslash-escaped, so run text is shown as it is."""
    text = html.escape(display(value, is_fraction=is_fraction), quote=False)
    text = MARKDOWN_SPECIALS.sub(r"\\\g<0>", text)
    return " ".join(text.splitlines())


def md_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Rows of already-escaped cells as a Markdown table."""
    lines = [
        "| " + " | ".join(md_cell(c) for c in columns) + " |",
        "|" + "---|" * len(columns),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return [*lines, ""]


def _md_key_values(pairs: Iterable[tuple[str, Any]]) -> list[str]:
    return md_table(("name", "value"), ([md_cell(k), md_cell(v)] for k, v in pairs))


def render_markdown(report: Report) -> str:
    """The report as Markdown (tables; no charts)."""
    lines = [f"# Report: {md_cell(report.title)}", "", f"Run folder: {md_cell(report.run_dir)}", ""]
    lines += ["## Settings", "", *_md_key_values(report.settings.items())]
    lines += ["## Provenance", "", *_md_key_values(flatten(report.provenance))]
    lines += ["## Metrics", ""]
    lines += md_table(
        ("metric", "value", "convention"),
        (
            [md_cell(e.label), md_cell(e.value, is_fraction=e.is_fraction), md_cell(e.convention)]
            for e in report.metrics
        ),
    )
    lines += [f"Buy and hold: {md_cell(report.buy_and_hold_note or 'curve drawn')}", ""]
    lines += ["## Top drawdowns", ""]
    lines += md_table(
        ("depth", "peak", "trough", "recovery", "days"),
        (
            [
                md_cell(p.depth, is_fraction=True),
                ns_to_iso(p.peak_time),
                ns_to_iso(p.trough_time),
                ns_to_iso(p.recovery_time) if p.recovery_time else "not recovered",
                md_cell(p.days),
            ]
            for p in report.drawdowns
        ),
    )
    lines += ["## Monthly returns", "", *_md_monthly(report)]
    rolling = report.rolling
    lines += [f"## Rolling Sharpe and volatility ({rolling.window_days}-day window)", ""]
    lines += _md_key_values(
        [
            ("latest Sharpe", float(rolling.sharpe[-1]) if len(rolling.sharpe) else None),
            (
                "latest volatility",
                float(rolling.volatility[-1]) if len(rolling.volatility) else None,
            ),
        ]
    )
    document = report_document(report)
    lines += ["## Distributions", ""]
    lines += md_table(
        ("returns", "count", "mean", "std", "min", "max"),
        (
            [
                name,
                *(
                    md_cell(document[key][f], is_fraction=f != "count")
                    for f in ("count", "mean", "std", "min", "max")
                ),
            ]
            for name, key in (("daily", "daily_returns"), ("per trade", "trade_returns"))
        ),
    )
    lines += ["## Fees, funding and liquidations", ""]
    lines += _md_key_values((k, v) for k, v in document["costs"].items() if k != "by_exit_reason")
    lines += md_table(
        ("exit reason", "trades", "pnl", "fees"),
        (
            [md_cell(s.reason), md_cell(s.trades), md_cell(s.pnl), md_cell(s.fees)]
            for s in report.costs.by_exit_reason
        ),
    )
    lines += [f"## Trades ({len(report.trades)})", ""]
    rows = trade_rows(report)
    lines += md_table(
        tuple(rows[0]) if rows else ("trades",),
        (
            [md_cell(v, is_fraction=k == "return") for k, v in row.items()]
            for row in rows[:MARKDOWN_TRADES]
        ),
    )
    if len(rows) > MARKDOWN_TRADES:
        lines += [f"First {MARKDOWN_TRADES} of {len(rows)} trades (all in the JSON and xlsx).", ""]
    for section in report.sections:
        lines += _md_section(section)
    lines += [f"## Log ({report.log_total} lines)", ""]
    lines += [f"- {md_cell(line)}" for line in report.log_lines] + [""]
    return "\n".join(lines)


def _md_monthly(report: Report) -> list[str]:
    cells = report.month_cells()
    years = {y.year: y.value for y in report.yearly}
    return md_table(
        ("year", *MONTHS, "year"),
        (
            [
                str(year),
                *(md_cell(cells.get((year, month)), is_fraction=True) for month in range(1, 13)),
                md_cell(total, is_fraction=True),
            ]
            for year, total in years.items()
        ),
    )


def _md_section(section: ResearchSection) -> list[str]:
    lines = [f"## {md_cell(section.title)}", "", f"From {md_cell(section.source)}", ""]
    lines += [f"> {md_cell(note)}" for note in section.notes]
    if section.overfitting:
        lines += ["### Overfitting", "", *_md_key_values(section.overfitting)]
        if section.meaning:
            lines += [md_cell(section.meaning), ""]
    if section.summary:
        lines += _md_key_values(section.summary)
    for table in section.tables:
        lines += [f"### {md_cell(table.title)}", ""]
        lines += md_table(table.columns, ([md_cell(v) for v in row] for row in table.rows))
    return lines
