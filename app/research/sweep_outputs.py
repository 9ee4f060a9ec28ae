"""A sweep's files: trials.csv (one row per finished trial) and best.json (the best trial,
what was searched, and the overfitting statistics of the choice).

trials.csv: `number`, one column per param, one per metric of metrics.json (its `metrics`
object, times as ISO 8601), then `feasible` (true/false), `error` (why a trial failed) and
`infeasible_reason` (why a trial that ran is not feasible). Floats are written with Python's
shortest round-trip repr, so a value reads back to the same float; an undefined metric is
empty. Text cells are made printable, and one that a spreadsheet would run as a formula
(starting with = + - @) is prefixed with an apostrophe.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from app import strict_json
from app.research.errors import ResearchInputError
from app.research.sweep import SweepResult, SweepSpec, TrialRecord, figures
from sandbox.text import clean_text

TRIALS_FILE: Final = "trials.csv"
BEST_FILE: Final = "best.json"
MAX_CELL_CHARS: Final = 2_000
FORMULA_STARTS: Final = ("=", "+", "-", "@")


def write_sweep_outputs(
    result: SweepResult, spec: SweepSpec, out_dir: Path, *, days_per_year: int | None = None
) -> list[Path]:
    """Write trials.csv and best.json for `result` into `out_dir` (created); the paths.

    `days_per_year` annualises the Sharpe figures of the statistics (default: the
    `annualisation_days` the best trial's metrics.json states, else 365).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    trials_path = out_dir / TRIALS_FILE
    trials_path.write_text(trials_csv(result.trials), encoding="utf-8", newline="")
    best_path = out_dir / BEST_FILE
    document = best_document(result, spec, days_per_year=days_per_year)
    best_path.write_text(strict_json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return [trials_path, best_path]


def trials_csv(records: Sequence[TrialRecord]) -> str:
    """The text of trials.csv for `records` (see the module docstring)."""
    params = _union(record.params for record in records)
    metrics = _union(figures(record.metrics) for record in records)
    header = ["number", *params, *metrics, "feasible", "error", "infeasible_reason"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for record in records:
        shown = figures(record.metrics)
        writer.writerow(
            [
                str(record.number),
                *(csv_cell(record.params.get(name)) for name in params),
                *(csv_cell(shown.get(name)) for name in metrics),
                csv_cell(record.feasible),
                csv_cell(record.error),
                csv_cell(record.infeasible_reason),
            ]
        )
    return buffer.getvalue()


def _union(mappings: Iterable[Any]) -> list[str]:
    """Keys of every mapping, in the order first seen."""
    names: dict[str, None] = {}
    for mapping in mappings:
        names.update(dict.fromkeys(mapping))
    return list(names)


def csv_cell(value: object) -> str:
    """One CSV cell: numbers as repr, text cleaned, and text a spreadsheet would run as a
    formula (=, +, -, @ ...) quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = clean_text(str(value), MAX_CELL_CHARS)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _trial_document(record: TrialRecord) -> dict[str, Any]:
    return {
        "trial": record.number,
        "params": record.params,
        "values": list(record.values) if record.values is not None else None,
        "metrics": dict(figures(record.metrics)),
    }


def best_document(
    result: SweepResult, spec: SweepSpec, *, days_per_year: int | None = None
) -> dict[str, Any]:
    """best.json: the best trial (params, metrics, objective values), the ranked best (the
    Pareto front for NSGA-II), what was searched and how, and the overfitting statistics."""
    best = result.best[0] if result.best else None
    ran = [record for record in result.trials if record.metrics]
    document: dict[str, Any] = {
        "best": _trial_document(best) if best is not None else None,
        "objectives": [{"metric": o.metric, "direction": o.direction} for o in spec.objectives],
        "method": spec.method,
        "seed": spec.seed,
        "space": spec.space.describe(),
        "constraints": {
            "min_trades": spec.constraints.min_trades,
            "max_drawdown": spec.constraints.max_drawdown,
        },
        "n_trials": len(result.trials),
        "n_feasible": sum(1 for record in result.trials if record.feasible),
        "n_failed": sum(1 for record in result.trials if record.error is not None),
        "cancelled": result.cancelled,
        "ranked": [_trial_document(record) for record in result.best],
    }
    document["overfitting"] = _statistics(result, best, len(ran), days_per_year)
    return document


def _statistics(
    result: SweepResult, best: TrialRecord | None, n_ran: int, days_per_year: int | None
) -> dict[str, Any]:
    """sweep_statistics of the best trial's column, or a note saying why there are none."""
    from app.research.overfitting import sweep_statistics

    if best is None or best.number not in result.feasible_numbers:
        return {"meaning": "No feasible trial: there is no chosen trial to test for overfitting."}
    conventions = best.metrics.get("conventions")
    days = days_per_year
    if days is None and isinstance(conventions, dict):
        stated = conventions.get("annualisation_days")
        days = stated if isinstance(stated, int) else None
    try:
        return sweep_statistics(
            result.daily_returns,
            result.feasible_numbers.index(best.number),
            days_per_year=days or 365,
            n_trials=max(n_ran, len(result.feasible_numbers)),
        )
    except ResearchInputError as error:
        return {"meaning": f"No overfitting statistics: {error.message}."}


__all__ = ["BEST_FILE", "TRIALS_FILE", "best_document", "trials_csv", "write_sweep_outputs"]
