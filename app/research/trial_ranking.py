"""Which finished trials are feasible and which are best: objective values from metrics.json,
the constraints (`--min-trades`, `--max-drawdown`) as Optuna constraint values and as a reason
in words, the ranking on one objective and the Pareto front of two."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from app.research.sweep_spec import Constraints, SweepSpec, TrialRecord


def figures(metrics: Mapping[str, Any]) -> Mapping[str, Any]:
    """The figures of a metrics.json document (its `metrics` object when it has one)."""
    inner = metrics.get("metrics")
    return inner if isinstance(inner, dict) else metrics


def constraint_values(limits: Constraints, metrics: Mapping[str, Any]) -> dict[str, float]:
    """Optuna's constraint values by name (<= 0 satisfied): `min_trades` = the minimum -
    trades, `max_drawdown` = |max drawdown| - the limit (as `Trial.set_constraint` takes
    them)."""
    values: dict[str, float] = {}
    shown = figures(metrics)
    if limits.min_trades is not None:
        values["min_trades"] = float(limits.min_trades) - float(shown.get("trades") or 0)
    if limits.max_drawdown is not None:
        drawdown = shown.get("max_drawdown")
        depth = abs(float(drawdown)) if isinstance(drawdown, int | float) else 1.0
        values["max_drawdown"] = depth - limits.max_drawdown
    return values


def infeasible_reason(spec: SweepSpec, metrics: Mapping[str, Any]) -> str | None:
    """Why a trial that ran is infeasible (one sentence), or None when it is feasible."""
    shown = figures(metrics)
    for objective in spec.objectives:
        value = shown.get(objective.metric)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return f"{objective.metric} is undefined for this trial"
        if not math.isfinite(float(value)):
            return f"{objective.metric} is not a finite number for this trial"
    limits = spec.constraints
    trades = shown.get("trades")
    if limits.min_trades is not None and (trades or 0) < limits.min_trades:
        return f"{trades} trades, fewer than --min-trades {limits.min_trades}"
    drawdown = shown.get("max_drawdown")
    if limits.max_drawdown is not None and (
        not isinstance(drawdown, int | float) or abs(drawdown) > limits.max_drawdown
    ):
        return f"max drawdown {drawdown} is deeper than --max-drawdown {limits.max_drawdown}"
    return None


def objective_values(spec: SweepSpec, metrics: Mapping[str, Any]) -> tuple[float, ...] | None:
    """The objective metrics as floats in spec order; None when one is not a finite number."""
    shown = figures(metrics)
    values: list[float] = []
    for objective in spec.objectives:
        value = shown.get(objective.metric)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        if not math.isfinite(float(value)):
            return None
        values.append(float(value))
    return tuple(values)


def _rank_key(spec: SweepSpec, record: TrialRecord) -> tuple[float, int]:
    """Sort key of a feasible record on the first objective: best first, then lower number."""
    value = record.values[0] if record.values else math.nan
    return (-value if spec.objectives[0].direction == "maximize" else value, record.number)


def rank_best(spec: SweepSpec, records: Sequence[TrialRecord]) -> tuple[TrialRecord, ...]:
    """The best feasible records: for one objective the top `keep_best` (at least one),
    ranked; for NSGA-II the whole Pareto front, ranked on the first objective."""
    feasible = [r for r in records if r.feasible and r.values is not None]
    if len(spec.objectives) > 1:
        feasible = pareto_front(spec, feasible)
        return tuple(sorted(feasible, key=lambda r: _rank_key(spec, r)))
    ranked = sorted(feasible, key=lambda r: _rank_key(spec, r))
    return tuple(ranked[: max(1, spec.keep_best)])


def pareto_front(spec: SweepSpec, records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """The records no other record dominates (at least as good on every objective, better on
    one); equal values keep the lowest trial number only."""
    signs = [1.0 if o.direction == "maximize" else -1.0 for o in spec.objectives]

    def scores(record: TrialRecord) -> tuple[float, ...]:
        values = record.values or ()
        return tuple(sign * value for sign, value in zip(signs, values, strict=True))

    front: list[TrialRecord] = []
    for record in sorted(records, key=lambda r: r.number):
        mine = scores(record)
        dominated = any(
            all(o >= m for o, m in zip(scores(other), mine, strict=True))
            and (scores(other) != mine or other.number < record.number)
            for other in records
            if other is not record
        )
        if not dominated:
            front.append(record)
    return front


def best_of(spec: SweepSpec, records: Sequence[TrialRecord]) -> TrialRecord | None:
    ranked = rank_best(spec, records)
    return ranked[0] if ranked else None


__all__ = [
    "best_of",
    "constraint_values",
    "figures",
    "infeasible_reason",
    "objective_values",
    "pareto_front",
    "rank_best",
]
