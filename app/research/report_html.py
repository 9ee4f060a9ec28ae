"""A report as one self-contained HTML file: templates/report.html rendered by jinja2 with
autoescape on, charts inline as SVG (app.research.report_charts), CSS inline, no script and
no external resource, so it opens offline from file:// and a Content-Security-Policy of
`default-src 'none'` can forbid everything else.

Run text (strategy names, params, log lines, sweep cells) reaches the page only through
jinja2's escaping or markupsafe's, never as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from app.engine.feed import ns_to_iso
from app.research.report import Report
from app.research.report_charts import (
    MONTHS,
    PALETTE,
    Line,
    bar_chart,
    empty_chart,
    fan_chart,
    heatmap,
    line_chart,
    number,
    percent,
)
from app.research.report_document import display, trade_rows
from app.research.report_sections import ResearchSection, flatten
from app.settings import REPO_ROOT

TEMPLATES_DIR = REPO_ROOT / "templates"
TEMPLATE = "report.html"
TRADES_SHOWN_EACH_END = 1_000
"""The HTML shows all trades up to twice this many, else the first and the last this many."""


@dataclass(frozen=True, slots=True)
class SectionView:
    """A research section with its charts drawn."""

    section: ResearchSection
    charts: tuple[Markup, ...]


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["show"] = display
    environment.filters["pct"] = lambda value: display(value, is_fraction=True)
    environment.filters["iso"] = lambda ns: ns_to_iso(int(ns)) if ns is not None else "-"
    return environment


def report_charts(report: Report) -> dict[str, Markup]:
    """Every chart of the run part of the report, by name."""
    lines = [Line("equity", report.time, report.equity, PALETTE[0])]
    if report.buy_and_hold is not None:
        lines.append(Line("buy and hold", report.time, report.buy_and_hold, PALETTE[1]))
    rolling = report.rolling
    window = f"{rolling.window_days}-day window"
    too_short = f"fewer than {rolling.window_days} daily returns: no full window yet"
    charts = {
        "equity": line_chart("equity", "Equity and buy-and-hold, quote units", lines),
        "underwater": line_chart(
            "underwater",
            "Drawdown from the running peak",
            [Line("drawdown", report.time, report.drawdown, PALETTE[2], fill_to_zero=True)],
            y_format=percent,
        ),
        "monthly": heatmap("monthly", "Monthly returns", report.month_cells()),
        "rolling_sharpe": line_chart(
            "rolling_sharpe",
            f"Rolling Sharpe, {window}, annualised",
            [Line("Sharpe", rolling.time, rolling.sharpe, PALETTE[4])],
            zero_line=True,
        ),
        "rolling_volatility": line_chart(
            "rolling_volatility",
            f"Rolling volatility, {window}, annualised",
            [Line("volatility", rolling.time, rolling.volatility, PALETTE[5])],
            y_format=percent,
        ),
        "daily_returns": bar_chart(
            "daily_returns",
            "Distribution of daily returns",
            report.daily_histogram.edges,
            report.daily_histogram.counts,
        ),
        "trade_returns": bar_chart(
            "trade_returns",
            "Distribution of per-trade returns",
            report.trade_histogram.edges,
            report.trade_histogram.counts,
            color=PALETTE[3],
        ),
    }
    if len(rolling.time) == 0:
        for name, title in (
            ("rolling_sharpe", "Rolling Sharpe"),
            ("rolling_volatility", "Rolling volatility"),
        ):
            charts[name] = empty_chart(name, f"{title}, {window}", too_short)
    return charts


def section_views(report: Report) -> list[SectionView]:
    """The research sections with their charts (the sweep's objective histogram, the Monte
    Carlo fan of equity paths)."""
    views = []
    for index, section in enumerate(report.sections):
        charts: list[Markup] = []
        if section.histogram is not None:
            title, counts = section.histogram
            charts.append(
                bar_chart(
                    f"{section.kind}_{index}_histogram",
                    title,
                    counts.edges,
                    counts.counts,
                    x_format=number,
                )
            )
        if section.fan is not None:
            fan = section.fan
            charts.append(
                fan_chart(
                    f"{section.kind}_{index}_fan",
                    "Simulated equity paths (percentiles)",
                    fan.x,
                    fan.bands,
                    fan.median,
                    x_is_time=fan.is_time,
                )
            )
        views.append(SectionView(section, tuple(charts)))
    return views


def shown_trades(report: Report) -> tuple[list[dict[str, Any]], int]:
    """The trade rows the HTML lists, and how many are left out in the middle."""
    rows = trade_rows(report)
    if len(rows) <= 2 * TRADES_SHOWN_EACH_END:
        return rows, 0
    kept = rows[:TRADES_SHOWN_EACH_END] + rows[-TRADES_SHOWN_EACH_END:]
    return kept, len(rows) - len(kept)


def render_html(report: Report) -> str:
    """The whole report as one HTML document."""
    trades, trades_left_out = shown_trades(report)
    months = report.month_cells()
    finite_daily = report.daily_returns[np.isfinite(report.daily_returns)]
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            report=report,
            charts=report_charts(report),
            sections=section_views(report),
            trades=trades,
            trades_left_out=trades_left_out,
            months=months,
            daily_count=len(finite_daily),
            provenance=flatten(report.provenance),
            month_names=MONTHS,
        )
    )
