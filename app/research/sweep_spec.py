"""What a sweep is asked to do: the search space, method, objectives and constraints, and the
checks that refuse an unusable request (one ResearchInputError, before any work); and the
record of one finished trial."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from app.engine import METRIC_DEFINITIONS, ParamValue
from app.research.errors import ResearchInputError
from app.research.samplers import METHODS, Method
from app.research.space import SearchSpace

Direction = Literal["maximize", "minimize"]
OBJECTIVE_METRICS: Final = tuple(sorted({*METRIC_DEFINITIONS, "final_equity"}))
"""Metrics a sweep can optimise: the numeric figures of metrics.json."""
DEFAULT_BATCH_SIZE: Final = 8


@dataclass(frozen=True)
class Objective:
    """One metric of metrics.json to maximise or minimise."""

    metric: str
    direction: Direction = "maximize"


@dataclass(frozen=True)
class Constraints:
    """What a feasible trial must meet: at least `min_trades` closed trades, a max drawdown
    no deeper than `max_drawdown` (a fraction of the peak, e.g. 0.3 for 30 %)."""

    min_trades: int | None = None
    max_drawdown: float | None = None

    @property
    def is_set(self) -> bool:
        return self.min_trades is not None or self.max_drawdown is not None


@dataclass(frozen=True)
class SweepSpec:
    """What a sweep searches, how, for what. `n_trials` None runs the whole grid (grid only);
    `batch_size` trials are asked and told together (fixed: results do not depend on the
    workers); `keep_best` is how many of the best get a full run folder."""

    space: SearchSpace
    method: Method
    objectives: tuple[Objective, ...]
    constraints: Constraints
    n_trials: int | None
    seed: int
    batch_size: int = DEFAULT_BATCH_SIZE
    keep_best: int = 1


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial (a row of trials.csv). `params` holds every param, typed;
    `metrics` is the trial's metrics.json (empty when it failed); `values` are its objective
    values in the order of the spec's objectives (None when it failed or an objective metric
    is undefined); `error` says why a trial failed, `infeasible_reason` why a trial that ran
    is not feasible."""

    number: int
    params: dict[str, ParamValue]
    metrics: dict[str, Any]
    feasible: bool
    error: str | None
    values: tuple[float, ...] | None
    infeasible_reason: str | None = None


def check_spec(spec: SweepSpec) -> None:
    """ResearchInputError for the first unusable part of `spec` (before any work)."""
    if not spec.space.searched():
        raise ResearchInputError(
            "param", "nothing to search: give at least one --param with a range or choices"
        )
    if spec.method not in METHODS:
        raise ResearchInputError(
            "method", f"{spec.method!r} is not a method; use one of {', '.join(METHODS)}"
        )
    _check_objectives(spec)
    if spec.method == "grid":
        continuous = spec.space.continuous()
        if continuous:
            raise ResearchInputError(
                "method",
                f"grid needs a step for {', '.join(continuous)} "
                "(e.g. low:high:step), or use random, tpe or cmaes for continuous ranges",
            )
    elif spec.n_trials is None:
        raise ResearchInputError("trials", f"{spec.method} needs --trials N (the trial budget)")
    if spec.n_trials is not None and spec.n_trials < 1:
        raise ResearchInputError("trials", f"must be at least 1; got {spec.n_trials}")
    if spec.batch_size < 1:
        raise ResearchInputError("batch_size", f"must be at least 1; got {spec.batch_size}")
    if spec.keep_best < 0:
        raise ResearchInputError("keep_best", f"must be 0 or more; got {spec.keep_best}")
    limits = spec.constraints
    if limits.min_trades is not None and limits.min_trades < 0:
        raise ResearchInputError("min_trades", f"must be 0 or more; got {limits.min_trades}")
    if limits.max_drawdown is not None and not 0 < limits.max_drawdown <= 1:
        raise ResearchInputError(
            "max_drawdown",
            f"is a fraction of the peak in (0, 1], e.g. 0.3 for 30 %; got {limits.max_drawdown}",
        )


def _check_objectives(spec: SweepSpec) -> None:
    count = len(spec.objectives)
    if spec.method == "nsga2" and count != 2:
        raise ResearchInputError(
            "objective", f"nsga2 needs two objectives (give --objective twice); got {count}"
        )
    if spec.method != "nsga2" and count != 1:
        raise ResearchInputError(
            "objective", f"{spec.method} takes one objective; use nsga2 for two; got {count}"
        )
    for objective in spec.objectives:
        if objective.metric not in OBJECTIVE_METRICS:
            raise ResearchInputError(
                "objective",
                f"{objective.metric!r} is not a metric; use one of {', '.join(OBJECTIVE_METRICS)}",
            )
        if objective.direction not in ("maximize", "minimize"):
            raise ResearchInputError(
                "objective", f"direction {objective.direction!r} is not maximize or minimize"
            )


def trials_total(spec: SweepSpec) -> int:
    """How many trials the sweep runs: `n_trials`, at most the grid's size for a grid."""
    grid = spec.space.grid_size()
    if spec.method == "grid" and grid is not None:
        return grid if spec.n_trials is None else min(grid, spec.n_trials)
    if spec.n_trials is None:
        raise ResearchInputError("trials", f"{spec.method} needs --trials N (the trial budget)")
    return spec.n_trials


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "OBJECTIVE_METRICS",
    "Constraints",
    "Direction",
    "Objective",
    "SweepSpec",
    "TrialRecord",
    "check_spec",
    "trials_total",
]
