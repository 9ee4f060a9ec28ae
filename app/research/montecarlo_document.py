"""montecarlo.json: a Monte Carlo simulation of a run folder as one plain, byte-stable document
(distributions, intervals, probability of ruin, fan chart), and the one function every door
(CLI, API) calls to make it.

Intervals are equal-tailed: the interval at level L runs from the (1 - L) / 2 to the
(1 + L) / 2 quantile of the simulated values (numpy's linear interpolation). Figures a path
leaves undefined (a Sharpe over returns that never vary, a CAGR over no time) are counted in
`undefined` and left out of that figure's statistics. Key order is fixed and numbers are
written as their shortest round-tripping text, so the same run, spec and seed give the same
bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import numpy as np

from app import strict_json
from app.engine.feed import FloatArray
from app.research.equity_analysis import histogram
from app.research.montecarlo import (
    FIGURES,
    HISTOGRAM_BINS,
    MonteCarloSpec,
    RunSample,
    Simulation,
    sample_from_folder,
    simulate,
)
from app.research.montecarlo_paths import PathFigures
from app.research.run_folder import load_run_folder
from app.runs.folder import format_times

MONTECARLO_FILE: Final = "montecarlo.json"
DOCUMENT_VERSION: Final = 1
_SAME_VALUE_SPREAD: Final = 1e-9

CONVENTIONS: Final = {
    "trade_return": "pnl / closed-trade equity before the trade (starting cash + pnl of the "
    "trades closed before it), at least -100 %",
    "paths": "compounding from the starting equity: equity x (1 + r) per step, never below 0",
    "final_equity": "last mark of the path, quote units",
    "cagr": "(final / starting equity) ^ (365.25 / the run's calendar days) - 1",
    "max_drawdown": "largest fall of a mark below the running peak, fraction <= 0 (marks: "
    "one per closed trade, or one per day for block paths)",
    "sharpe": "mean(day-end return - risk-free / D) / std (ddof=1) x sqrt(D), on the path's "
    "day-end equity",
    "longest_drawdown_days": "longest time from a peak to the first mark back at or above it "
    "(or the end), days",
    "ruin": "share of paths whose equity is ever at or below ruin_threshold x starting equity",
    "intervals": "equal-tailed: quantiles (1 - level) / 2 and (1 + level) / 2",
}


def _snapped(values: FloatArray) -> FloatArray:
    """`values`, or their median repeated when they differ by float rounding alone (a shuffle's
    final equities multiply the same returns in other orders): one bin, not 40 empty ones."""
    low, high = float(values.min()), float(values.max())
    if high - low <= _SAME_VALUE_SPREAD * max(abs(low), abs(high)):
        return np.full_like(values, float(np.median(values)))
    return values


def _figure_summary(values: FloatArray, levels: tuple[float, ...]) -> dict[str, Any]:
    finite = values[np.isfinite(values)]
    summary: dict[str, Any] = {"undefined": int(len(values) - len(finite))}
    if len(finite) == 0:
        summary.update(mean=None, median=None, std=None, min=None, max=None, intervals=[])
        summary["histogram"] = {"edges": [], "counts": []}
        return summary
    tails = [q for level in levels for q in ((1 - level) / 2, (1 + level) / 2)]
    quantiles = np.quantile(finite, tails).tolist()
    bins = histogram(_snapped(finite), bins=HISTOGRAM_BINS)
    summary.update(
        mean=float(np.mean(finite)),
        median=float(np.median(finite)),
        std=float(np.std(finite, ddof=1)) if len(finite) > 1 else 0.0,
        min=float(finite.min()),
        max=float(finite.max()),
        intervals=[
            {"level": level, "low": quantiles[2 * i], "high": quantiles[2 * i + 1]}
            for i, level in enumerate(levels)
        ],
        histogram={"edges": bins.edges.tolist(), "counts": bins.counts.tolist()},
    )
    return summary


def _observed(figures: PathFigures) -> dict[str, float | None]:
    values = {name: float(getattr(figures, name)[0]) for name in FIGURES}
    return {name: value if np.isfinite(value) else None for name, value in values.items()}


def _fan(sample: RunSample, spec: MonteCarloSpec, simulation: Simulation) -> dict[str, Any]:
    if spec.method == "block":
        times = sample.day_end_times[simulation.fan_marks]
    else:
        times = simulation.clock.times[simulation.fan_marks]
    percentiles = sorted(
        {50.0}
        | {round((1 - level) / 2 * 100, 6) for level in spec.levels}
        | {round((1 + level) / 2 * 100, 6) for level in spec.levels}
    )
    bands = np.percentile(simulation.fan_equity, percentiles, axis=0)
    return {
        "marks": simulation.fan_marks.tolist(),
        "time": format_times(times),
        "percentiles": [
            {"percentile": p, "equity": band.tolist()}
            for p, band in zip(percentiles, bands, strict=True)
        ],
    }


def montecarlo_document(
    sample: RunSample, spec: MonteCarloSpec, simulation: Simulation
) -> dict[str, Any]:
    """The montecarlo.json document of a simulation of `sample` under `spec`."""
    figures = simulation.figures
    ruin_equity = spec.ruin_threshold * sample.initial_equity
    return {
        "version": DOCUMENT_VERSION,
        "method": spec.method,
        "simulations": spec.simulations,
        "seed": spec.seed,
        "levels": list(spec.levels),
        "block": simulation.block,
        "inputs": {
            "initial_equity": sample.initial_equity,
            "trades": len(sample.trade_returns),
            "trades_ignored": sample.trades_ignored,
            "daily_returns": len(sample.daily_returns),
            "calendar_days": sample.calendar_days,
            "annualisation_days": sample.days_per_year,
            "risk_free_rate": sample.risk_free_rate,
        },
        "observed": _observed(simulation.observed),
        "figures": {name: _figure_summary(getattr(figures, name), spec.levels) for name in FIGURES},
        "ruin": {
            "threshold": spec.ruin_threshold,
            "equity": ruin_equity,
            "probability": float(np.mean(figures.lowest_equity <= ruin_equity)),
            "observed": bool(simulation.observed.lowest_equity[0] <= ruin_equity),
        },
        "fan": _fan(sample, spec, simulation),
        "conventions": CONVENTIONS,
    }


def run_montecarlo(run_dir: Path, spec: MonteCarloSpec) -> dict[str, Any]:
    """Load the run folder `run_dir`, simulate `spec` and return the montecarlo.json document;
    ResearchInputError (field "run_dir", "method", ...) for a folder or spec it cannot use."""
    sample = sample_from_folder(load_run_folder(run_dir))
    return montecarlo_document(sample, spec, simulate(sample, spec))


def dumps_document(document: dict[str, Any]) -> str:
    """The text of montecarlo.json (strict JSON: no NaN or Infinity, fixed key order)."""
    return strict_json.dumps(document, indent=2, sort_keys=False) + "\n"


def write_montecarlo(document: dict[str, Any], out_dir: Path) -> Path:
    """Write `document` as `out_dir`/montecarlo.json (the folder is created if needed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / MONTECARLO_FILE
    path.write_text(dumps_document(document), encoding="utf-8")
    return path
