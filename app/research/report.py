"""The report of one finished run as plain data, built from its folder: settings and
provenance, metrics with their conventions, equity against buy-and-hold, drawdowns, monthly
and yearly returns, rolling Sharpe and volatility, return distributions, trades, costs, and
the research sections found beside it (sweep, walk-forward, Monte Carlo).

Pure: `build_report` takes what `app.research.report_sources` read and returns a frozen
`Report`; the renderers (`report_html`, `report_document`, `report_xlsx`) only format it, so
every format carries the same figures. Every metric value is metrics.json's own, untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.feed import FloatArray, IntArray, ns_to_iso
from app.engine.metrics import DEFINITIONS, drawdown
from app.research.equity_analysis import (
    DrawdownPeriod,
    Histogram,
    MonthReturn,
    RollingStats,
    YearReturn,
    buy_and_hold_equity,
    day_returns,
    drawdown_periods,
    histogram,
    period_returns,
    rolling_stats,
    trade_returns,
)
from app.research.report_sections import ResearchSection
from app.research.run_folder import RunFolder, TradeTable

LABELS: dict[str, str] = {
    "start": "first bar",
    "end": "last bar",
    "bars": "bars",
    "warmup_bars": "warm-up bars",
    "initial_equity": "initial equity",
    "final_equity": "final equity",
    "total_return": "total return",
    "cagr": "CAGR",
    "volatility": "volatility (annualised)",
    "sharpe": "Sharpe",
    "sortino": "Sortino",
    "calmar": "Calmar",
    "max_drawdown": "max drawdown",
    "max_drawdown_days": "longest drawdown, days",
    "trades": "trades",
    "win_rate": "win rate",
    "profit_factor": "profit factor",
    "expectancy": "expectancy",
    "avg_trade_pct": "average trade, %",
    "exposure": "exposure",
    "fees_paid": "fees paid",
    "funding_paid": "funding paid",
    "liquidations": "liquidations",
    "end_of_data_closes": "closed at end of data",
    "buy_and_hold_return": "buy and hold return",
    "psr": "probabilistic Sharpe",
    "skewness": "skewness of daily returns",
    "kurtosis": "kurtosis of daily returns (raw)",
}
EXTRA_DEFINITIONS: dict[str, str] = {
    "start": "time of the first traded bar (UTC)",
    "end": "time of the last bar (UTC)",
    "bars": "bars in the traded period",
    "warmup_bars": "traded bars before the first on_data (indicators warming up); the other "
    "figures cover them, flat at the initial cash",
    "initial_equity": "starting cash, quote units",
    "final_equity": "equity after the last bar, quote units",
    "end_of_data_closes": "trades closed by the end of the data rather than by the strategy",
    "psr": "P(true Sharpe > 0) from the daily returns, skewness and raw kurtosis "
    "(Bailey & Lopez de Prado 2012)",
    "skewness": "third standardised moment of the daily returns",
    "kurtosis": "fourth standardised moment of the daily returns (raw: 3 for a normal)",
}
FRACTION_METRICS = frozenset(
    {
        "total_return",
        "cagr",
        "volatility",
        "max_drawdown",
        "win_rate",
        "exposure",
        "buy_and_hold_return",
        "psr",
    }
)
"""Metrics stored as fractions and shown as percent."""
TRADE_EXIT_REASONS = (
    "signal",
    "stop_loss",
    "take_profit",
    "trailing_stop",
    "liquidation",
    "end_of_data",
)
LOG_LINES_SHOWN = 200


@dataclass(frozen=True, slots=True)
class MetricEntry:
    """One figure of metrics.json: `value` exactly as the file holds it, `convention` the
    definition it was computed with (docs/engine.md, "Metrics")."""

    name: str
    label: str
    value: Any
    convention: str
    is_fraction: bool


@dataclass(frozen=True, slots=True)
class ExitReasonSummary:
    """Trades that closed for one reason: count, net pnl and fees (quote units)."""

    reason: str
    trades: int
    pnl: float
    fees: float


@dataclass(frozen=True, slots=True)
class CostSummary:
    """Fees, funding and liquidations. `fees_paid`, `funding_paid` and `liquidations` are
    metrics.json's; `trade_fees` is the sum of trades.csv's fees column (the fees of closed
    trades), `gross_pnl` the trades' pnl before those fees, all in quote units."""

    fees_paid: float | None
    funding_paid: float | None
    liquidations: int | None
    trade_fees: float
    gross_pnl: float
    net_pnl: float
    by_exit_reason: tuple[ExitReasonSummary, ...]
    liquidated_trades: tuple[int, ...]  # positions in the trade table


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """Closes of the run's data at each equity mark (aligned with equity.csv) and where they
    came from (a dataset name or a file)."""

    closes: FloatArray
    source: str


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report shows; see the module docstring."""

    run_dir: str
    strategy: str
    params: dict[str, Any]
    settings: dict[str, Any]
    provenance: dict[str, Any]
    metrics: tuple[MetricEntry, ...]
    conventions: dict[str, Any]
    time: IntArray
    equity: FloatArray
    drawdown: FloatArray
    buy_and_hold: FloatArray | None
    buy_and_hold_note: str
    drawdowns: tuple[DrawdownPeriod, ...]
    monthly: tuple[MonthReturn, ...]
    yearly: tuple[YearReturn, ...]
    rolling: RollingStats
    day_ends: IntArray
    daily_returns: FloatArray
    daily_histogram: Histogram
    trade_returns: FloatArray
    trade_histogram: Histogram
    trades: TradeTable
    costs: CostSummary
    log_lines: tuple[str, ...]
    log_total: int
    sections: tuple[ResearchSection, ...] = field(default=())

    @property
    def title(self) -> str:
        """`Strategy(param=value, ...)`: the run's class and params."""
        params = ", ".join(f"{name}={value}" for name, value in self.params.items())
        return f"{self.strategy}({params})"

    def month_cells(self) -> dict[tuple[int, int], float]:
        """Monthly returns by (year, month)."""
        return {(m.year, m.month): m.value for m in self.monthly}

    def metric(self, name: str) -> Any:
        """The value metrics.json holds for `name` (None when absent)."""
        return next((entry.value for entry in self.metrics if entry.name == name), None)


def metric_entries(figures: dict[str, Any], conventions: dict[str, Any]) -> list[MetricEntry]:
    """Every figure of metrics.json in the file's order, with its convention; Sharpe, Sortino
    and volatility name the annualisation and risk-free rate the run used."""
    days = conventions.get("annualisation_days")
    risk_free = conventions.get("risk_free_rate")
    entries = []
    for name, value in figures.items():
        convention = DEFINITIONS.get(name) or EXTRA_DEFINITIONS.get(name, "")
        if name in ("sharpe", "sortino", "volatility") and days is not None:
            convention = f"{convention}; D = {days}" + (
                f", risk-free {risk_free} a year" if name != "volatility" else ""
            )
        entries.append(
            MetricEntry(
                name=name,
                label=LABELS.get(name, name.replace("_", " ")),
                value=value,
                convention=convention,
                is_fraction=name in FRACTION_METRICS,
            )
        )
    return entries


def cost_summary(figures: dict[str, Any], trades: TradeTable) -> CostSummary:
    """Fees, funding and liquidations of a run, with the trades by exit reason."""
    reasons = np.array(trades.exit_reason, dtype=object)
    summaries = []
    known = [*TRADE_EXIT_REASONS, *sorted(set(trades.exit_reason) - set(TRADE_EXIT_REASONS))]
    for reason in known:
        chosen = reasons == reason
        if not chosen.any():
            continue
        summaries.append(
            ExitReasonSummary(
                reason=reason,
                trades=int(chosen.sum()),
                pnl=float(trades.pnl[chosen].sum()),
                fees=float(trades.fees[chosen].sum()),
            )
        )

    def optional_float(name: str) -> float | None:
        value = figures.get(name)
        return float(value) if isinstance(value, int | float) else None

    liquidations = figures.get("liquidations")
    return CostSummary(
        fees_paid=optional_float("fees_paid"),
        funding_paid=optional_float("funding_paid"),
        liquidations=int(liquidations) if isinstance(liquidations, int | float) else None,
        trade_fees=float(trades.fees.sum()),
        gross_pnl=float((trades.pnl + trades.fees).sum()),
        net_pnl=float(trades.pnl.sum()),
        by_exit_reason=tuple(summaries),
        liquidated_trades=tuple(int(i) for i in np.flatnonzero(reasons == "liquidation")),
    )


def build_report(
    folder: RunFolder,
    *,
    log_lines: tuple[str, ...] = (),
    prices: PriceSeries | None = None,
    price_note: str = "",
    sections: tuple[ResearchSection, ...] = (),
    label: str | None = None,
) -> Report:
    """The report of `folder`. `prices` (closes aligned with equity.csv) draws the
    buy-and-hold curve; without them `price_note` says why there is none. `label` names
    the run in the report (default: the folder's path)."""
    figures, conventions = folder.metrics.figures, folder.metrics.conventions
    initial = folder.metrics.initial_equity
    days_per_year = folder.metrics.annualisation_days
    curve = folder.equity
    monthly, yearly = period_returns(initial, curve.time, curve.equity)
    day_ends, daily = day_returns(curve.time, curve.equity)
    per_trade = trade_returns(folder.trades.pnl, folder.trades.size, folder.trades.entry_price)
    config = folder.provenance.get("config")
    strategy = folder.provenance.get("strategy")
    params = folder.provenance.get("params")
    return Report(
        run_dir=label or str(folder.path),
        strategy=str(strategy.get("class", "")) if isinstance(strategy, dict) else "",
        params=dict(params) if isinstance(params, dict) else {},
        settings=_settings(config) if isinstance(config, dict) else {},
        provenance={k: v for k, v in folder.provenance.items() if k not in ("config", "params")},
        metrics=tuple(metric_entries(figures, conventions)),
        conventions=dict(conventions),
        time=curve.time,
        equity=curve.equity,
        drawdown=drawdown(initial, curve.equity) if len(curve) else np.empty(0),
        buy_and_hold=buy_and_hold_equity(initial, prices.closes) if prices else None,
        buy_and_hold_note=(f"buy and hold from {prices.source}" if prices else price_note),
        drawdowns=tuple(drawdown_periods(initial, curve.time, curve.equity)),
        monthly=tuple(monthly),
        yearly=tuple(yearly),
        rolling=rolling_stats(
            curve.time,
            curve.equity,
            days_per_year=days_per_year,
            risk_free_rate=folder.metrics.risk_free_rate,
        ),
        day_ends=day_ends,
        daily_returns=daily,
        daily_histogram=histogram(daily),
        trade_returns=per_trade,
        trade_histogram=histogram(per_trade),
        trades=folder.trades,
        costs=cost_summary(figures, folder.trades),
        log_lines=log_lines[:LOG_LINES_SHOWN],
        log_total=len(log_lines),
        sections=sections,
    )


def _settings(config: dict[str, Any]) -> dict[str, Any]:
    """The run's config without its params (shown apart) and with margin tiers summarised."""
    shown: dict[str, Any] = {}
    for name, value in config.items():
        if name == "params":
            continue
        if name == "margin_tiers" and isinstance(value, list):
            shown[name] = f"{len(value)} tiers (see provenance.json)"
        elif name in ("start", "end") and isinstance(value, int) and not isinstance(value, bool):
            shown[name] = ns_to_iso(value)  # the config holds epoch ns
        else:
            shown[name] = value
    return shown
