"""A sweep request as plain data (what the database stores) and the SweepSpec it stands for.

The API checks a request by building its SweepSpec against the strategy's params (every
problem is a ResearchInputError naming the field, raised before anything is stored), then
stores the request itself; the sweep job builds the same SweepSpec from the stored request
when it starts or resumes, so a resumed sweep asks Optuna exactly the same question.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, cast

from app.engine import ParamValue
from app.research.errors import ResearchInputError
from app.research.space import SearchSpace, parse_param
from app.research.sweep import Constraints, Objective, SweepSpec, check_spec

Method = Literal["grid", "random", "tpe", "cmaes", "nsga2"]
Direction = Literal["maximize", "minimize"]
REQUEST_VERSION: Final = 1
SWEEP_BATCH_SIZE: Final = 8
"""Trials asked of Optuna at once: fixed (never the worker count), so results do not depend
on how many workers a server gives a sweep."""


@dataclass(frozen=True, slots=True)
class SweepRequest:
    """A sweep as asked for: param ranges in the CLI's `--param` text form ("fast=5:50:5",
    "slow=20..200", "mode=a,b,c"), the method, objectives as (metric, direction), the
    constraints, the trial budget (None: the grid's size) and the seed."""

    ranges: tuple[str, ...]
    method: Method
    objectives: tuple[tuple[str, Direction], ...]
    min_trades: int | None = None
    max_drawdown: float | None = None
    n_trials: int | None = None
    seed: int = 0
    batch_size: int = SWEEP_BATCH_SIZE
    version: int = field(default=REQUEST_VERSION)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready data; `from_dict` reads it back."""
        data = asdict(self)
        data["ranges"] = list(self.ranges)
        data["objectives"] = [list(objective) for objective in self.objectives]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepRequest:
        """The request `to_dict` described."""
        return cls(
            ranges=tuple(str(text) for text in data["ranges"]),
            method=cast(Method, data["method"]),
            objectives=tuple(
                (str(metric), cast(Direction, direction))
                for metric, direction in data["objectives"]
            ),
            min_trades=data.get("min_trades"),
            max_drawdown=data.get("max_drawdown"),
            n_trials=data.get("n_trials"),
            seed=int(data.get("seed", 0)),
            batch_size=int(data.get("batch_size", SWEEP_BATCH_SIZE)),
            version=int(data.get("version", REQUEST_VERSION)),
        )


def range_text(
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    step: float | None = None,
    choices: list[ParamValue] | None = None,
) -> str:
    """A structured range (from/to/step, or choices) in the `--param` text form, so the API
    and the CLI are parsed, and refused, by the same parser (app.research.space)."""
    if choices is not None:
        if low is not None or high is not None or step is not None:
            raise ResearchInputError(
                "ranges", f"{name} gives both choices and low/high: give one or the other"
            )
        if not choices:
            raise ResearchInputError("ranges", f"{name} has no choices; list at least one")
        texts = [_choice_text(name, value) for value in choices]
        return f"{name}={','.join(texts)}"
    if low is None or high is None:
        raise ResearchInputError("ranges", f"{name} needs both low and high (or a list of choices)")
    bounds = f"{_number(low)}:{_number(high)}"
    return f"{name}={bounds}:{_number(step)}" if step is not None else f"{name}={bounds}"


def _number(value: float) -> str:
    return str(int(value)) if isinstance(value, int) else repr(float(value))


def _choice_text(name: str, value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if "," in text or not text.strip():
        raise ResearchInputError(
            "ranges",
            f"{name}'s choice {text!r} cannot be used: choices may not be empty or hold a comma",
        )
    return text


API_FIELDS: Final = {"param": "ranges", "objective": "objectives"}
"""The request field of each ResearchInputError field that the API names otherwise."""


def build_spec(request: SweepRequest, defaults: Mapping[str, ParamValue]) -> SweepSpec:
    """The checked SweepSpec of `request` for a strategy whose params default to `defaults`.

    The parser and the checks are the CLI's (app.research.space.parse_param,
    app.research.sweep.check_spec); ResearchInputError names the request's field.
    """
    try:
        if not request.ranges:
            raise ResearchInputError("param", "give at least one param range to search")
        space = SearchSpace(tuple(parse_param(text, defaults) for text in request.ranges))
        spec = SweepSpec(
            space=space,
            method=request.method,
            objectives=tuple(Objective(metric, way) for metric, way in request.objectives),
            constraints=Constraints(
                min_trades=request.min_trades, max_drawdown=request.max_drawdown
            ),
            n_trials=request.n_trials,
            seed=request.seed,
            batch_size=request.batch_size,
            keep_best=1,
        )
        check_spec(spec)
    except ResearchInputError as error:
        field_name = API_FIELDS.get(error.field, error.field)
        if field_name == error.field:
            raise
        raise ResearchInputError(field_name, error.message) from None
    return spec
