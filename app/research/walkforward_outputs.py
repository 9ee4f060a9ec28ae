"""The files of a walk-forward: folds.csv, the stitched equity.csv and trades.csv, and
walkforward.json (folds, efficiency, parameter stability, out-of-sample metrics with their
t-statistic, and the acceptance verdict). Definitions: docs/research.md, "Walk-forward"."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from app import strict_json
from app.engine import MarketData, ns_to_iso
from app.engine.metrics import NS_PER_DAY
from app.research.folds import DurationWindows, FoldPlan, format_duration
from app.research.oos_account import write_stitched_equity, write_stitched_trades
from app.research.space import Choice

# trials.csv's cell rule (true/false, repr floats, text cleaned and kept from being read as a
# spreadsheet formula): a reason may quote the strategy's own error text.
from app.research.sweep_outputs import csv_cell
from app.research.walkforward import FoldOutcome, WalkForwardResult, WalkForwardSpec
from app.research.walkforward_statistics import (
    WindowReturn,
    annualised_return,
    compounded_annual_return,
    efficiency,
    mean_return_t_test,
    parameter_stability,
)

JSON_ONLY: Final = ("params", "overfitting")
"""Row keys walkforward.json holds but folds.csv does not (params get a column each)."""
WALKFORWARD_FILES: Final = ("folds.csv", "equity.csv", "trades.csv", "walkforward.json")
EFFICIENCY_DEFINITION: Final = (
    "annualised out-of-sample return / annualised in-sample return; annualised = (1 + total "
    "return) ^ (365.25 / calendar days) - 1; per fold: test CAGR / chosen trial's train CAGR; "
    "overall: each side's fold returns compounded and annualised over the days they cover; "
    "undefined (null) when the in-sample figure is not positive"
)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def window_days(market: MarketData, start: int, end_exclusive: int) -> float:
    """Calendar days the engine's CAGR uses for a run trading `[start, end)`: first traded
    bar's open to last bar's open plus one bar."""
    first, stop = np.searchsorted(market.time, [start, end_exclusive], side="left")
    if stop <= first:
        return 0.0
    return (int(market.time[stop - 1]) + market.bar_ns - int(market.time[first])) / NS_PER_DAY


def fold_rows(
    result: WalkForwardResult, spec: WalkForwardSpec, market: MarketData
) -> list[dict[str, Any]]:
    """One plain-data row per fold (what folds.csv and walkforward.json's `folds` hold)."""
    return [_fold_row(outcome, spec, market) for outcome in result.folds]


def _fold_row(outcome: FoldOutcome, spec: WalkForwardSpec, market: MarketData) -> dict[str, Any]:
    fold = outcome.fold
    train, test = outcome.train_figures, (outcome.test.metrics if outcome.test else {})
    train_annual = annualised_return(
        _number(train.get("total_return")), window_days(market, fold.train_start, fold.train_end)
    )
    test_annual = annualised_return(
        _number(test.get("total_return")), window_days(market, fold.test_start, fold.test_end)
    )
    minimum = spec.acceptance.min_trades
    statistics = outcome.overfitting or {}
    train_trades = train.get("trades") if outcome.chosen is not None else None
    row: dict[str, Any] = {
        "fold": fold.number,
        "status": outcome.status,
        "train_start": ns_to_iso(fold.train_start),
        "train_end": ns_to_iso(fold.train_end),
        "test_start": ns_to_iso(fold.test_start),
        "test_end": ns_to_iso(fold.test_end),
        "train_bars": fold.train_bars,
        "test_bars": fold.test_bars,
        "trials": outcome.trials,
        "feasible_trials": outcome.feasible_trials,
        "params": dict(outcome.chosen.params) if outcome.chosen else None,
    }
    for objective in spec.sweep.objectives:
        row[f"train_{objective.metric}"] = train.get(objective.metric)
        row[f"test_{objective.metric}"] = test.get(objective.metric)
    row.update(
        train_trades=train_trades,
        test_trades=test.get("trades") if outcome.test else None,
        train_annual_return=train_annual,
        test_annual_return=test_annual,
        efficiency=efficiency(test_annual, train_annual) if outcome.test else None,
        train_dsr=statistics.get("dsr"),
        train_pbo=statistics.get("pbo"),
        min_trades_passed=(
            None
            if minimum is None or outcome.status in ("skipped", "cancelled")
            else isinstance(train_trades, int) and train_trades >= minimum
        ),
        start_equity=outcome.start_equity,
        end_equity=outcome.end_equity,
        reason=outcome.reason,
        overfitting=outcome.overfitting,
    )
    return row


def summary_document(
    result: WalkForwardResult, spec: WalkForwardSpec, market: MarketData
) -> dict[str, Any]:
    """walkforward.json's content (plain JSON data)."""
    rows = fold_rows(result, spec, market)
    tested = [(o, r) for o, r in zip(result.folds, rows, strict=True) if o.test is not None]
    in_sample = compounded_annual_return(
        [
            WindowReturn(float(o.train_figures.get("total_return") or 0.0), _days(market, o, True))
            for o, _ in tested
        ]
    )
    out_of_sample = compounded_annual_return(
        [
            WindowReturn(float(o.test.metrics.get("total_return") or 0.0), _days(market, o, False))
            for o, _ in tested
            if o.test is not None
        ]
    )
    overall = efficiency(out_of_sample, in_sample)
    stability = parameter_stability(
        [o.chosen.params for o, _ in tested if o.chosen is not None], _spans(spec)
    )
    account = result.account
    return {
        "scheme": _scheme(result.plan, spec),
        "sweep": {
            "method": spec.sweep.method,
            "objectives": [[o.metric, o.direction] for o in spec.sweep.objectives],
            "trials_per_fold": spec.sweep.n_trials,
            "seed": spec.sweep.seed,
            "space": spec.sweep.space.describe(),
            "constraints": {
                "min_trades": spec.sweep.constraints.min_trades,
                "max_drawdown": spec.sweep.constraints.max_drawdown,
            },
        },
        "folds": rows,
        "efficiency": {
            "per_fold": [r["efficiency"] for r in rows],
            "in_sample_annual_return": in_sample,
            "out_of_sample_annual_return": out_of_sample,
            "overall": overall,
            "definition": EFFICIENCY_DEFINITION,
        },
        "parameter_stability": stability,
        "out_of_sample": {
            "initial_cash": result.initial_cash,
            "metrics": _plain_metrics(account.metrics),
            "mean_daily_return_test": mean_return_t_test(account.daily_returns).to_dict(),
            "conventions": "the engine's (docs/engine.md, Metrics) over the stitched test bars",
        },
        "acceptance": _acceptance(spec, rows, overall),
        "cancelled": result.cancelled,
    }


def _days(market: MarketData, outcome: FoldOutcome, is_train: bool) -> float:
    fold = outcome.fold
    if is_train:
        return window_days(market, fold.train_start, fold.train_end)
    return window_days(market, fold.test_start, fold.test_end)


def _spans(spec: WalkForwardSpec) -> dict[str, tuple[float, float]]:
    return {
        item.name: (float(item.low), float(item.top))
        for item in spec.sweep.space.ranges
        if not isinstance(item, Choice)
    }


def _plain_metrics(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: ns_to_iso(value) if name in ("start", "end") and isinstance(value, int) else value
        for name, value in metrics.items()
    }


def _scheme(plan: FoldPlan, spec: WalkForwardSpec) -> dict[str, Any]:
    scheme = spec.scheme
    described: dict[str, Any]
    if isinstance(scheme, DurationWindows):
        step = scheme.test_ns if scheme.step_ns is None else scheme.step_ns
        described = {
            "kind": "durations",
            "train": format_duration(scheme.train_ns),
            "test": format_duration(scheme.test_ns),
            "step": format_duration(step),
        }
    else:
        described = {
            "kind": "equal_folds",
            "folds": scheme.folds,
            "train_ratio": scheme.train_ratio,
        }
    described.update(
        anchored=scheme.is_anchored,
        warmup_bars=plan.warmup_bars,
        warmup=plan.warmup_note or "given",
        data_start=ns_to_iso(plan.data_start),
        data_end=ns_to_iso(plan.data_end),
        bar=format_duration(plan.bar_ns),
        untested_tail=(
            None
            if plan.tail_start >= plan.data_end
            else {"start": ns_to_iso(plan.tail_start), "end": ns_to_iso(plan.data_end)}
        ),
    )
    return described


def _acceptance(
    spec: WalkForwardSpec, rows: Sequence[Mapping[str, Any]], overall: float | None
) -> dict[str, Any]:
    acceptance = spec.acceptance
    verdicts: list[bool] = []
    document: dict[str, Any] = {"min_trades": None, "min_efficiency": None}
    if acceptance.min_trades is not None:
        judged = [r for r in rows if r["min_trades_passed"] is not None]
        failing = [r["fold"] for r in judged if not r["min_trades_passed"]]
        passed = bool(judged) and not failing
        document["min_trades"] = {
            "threshold": acceptance.min_trades,
            "meaning": "in-sample trades of the chosen params, in every fold that ran",
            "failing_folds": failing,
            "passed": passed,
        }
        verdicts.append(passed)
    if acceptance.min_efficiency is not None:
        passed = overall is not None and overall >= acceptance.min_efficiency
        document["min_efficiency"] = {
            "threshold": acceptance.min_efficiency,
            "efficiency": overall,
            "passed": passed,
        }
        verdicts.append(passed)
    document["passed"] = all(verdicts) if verdicts else None
    return document


def write_walkforward_outputs(
    result: WalkForwardResult,
    spec: WalkForwardSpec,
    market: MarketData,
    out_dir: Path,
    *,
    document: dict[str, Any] | None = None,
) -> list[Path]:
    """folds.csv, equity.csv, trades.csv and walkforward.json in `out_dir` (created);
    `document` is `summary_document(result, spec, market)` when the caller has it already."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if document is None:
        document = summary_document(result, spec, market)
    paths = [
        _write_folds_csv(document["folds"], out_dir / "folds.csv"),
        write_stitched_equity(result.account, out_dir / "equity.csv"),
        write_stitched_trades(result.account, out_dir / "trades.csv"),
    ]
    summary = out_dir / "walkforward.json"
    summary.write_text(strict_json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return [*paths, summary]


def _write_folds_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    names = list(dict.fromkeys(name for row in rows for name in (row["params"] or {})))
    header = [key for key in rows[0] if key not in JSON_ONLY] if rows else []
    position = header.index("trials") + 2 if header else 0
    columns = [*header[:position], *(f"param_{n}" for n in names), *header[position:]]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            params = row["params"] or {}
            values = [*(row[k] for k in header[:position]), *(params.get(n) for n in names)]
            values.extend(row[k] for k in header[position:])
            writer.writerow([csv_cell(v) for v in values])
    return path
