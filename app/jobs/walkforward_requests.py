"""A walk-forward request as plain data (stored with its sweep request) and the
WalkForwardSpec it stands for.

A walk-forward is stored as a sweep row of kind "walkforward": its `spec` holds the sweep
request (app.jobs.sweep_requests) plus a `walk` entry, this module's WalkRequest. The API
checks it by building the WalkForwardSpec against the base run (the folds must fit the data,
the first train window must hold more bars than a given warm-up), before anything is stored;
the job builds the same spec again when it starts or resumes, and measures the warm-up then
when none was given (app.research.walkforward.with_measured_warmup), before any fold runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from app.jobs.sweep_requests import SweepRequest, build_spec
from app.research.errors import ResearchInputError
from app.research.folds import DurationWindows, EqualFolds, FoldPlan, FoldScheme, parse_duration
from app.research.walkforward import (
    Acceptance,
    WalkForwardSpec,
    check_walkforward,
)
from app.runs.prepare import PreparedRun

WALK_KEY = "walk"


@dataclass(frozen=True, slots=True)
class WalkRequest:
    """The fold layout, as the CLI takes it: `train`/`test`/`step` durations ("180d", "60d")
    or `folds` equal test windows with a `train_ratio`; `anchored` keeps every train window's
    start at the data's first bar. `warmup_bars` None measures it when the job starts (probe
    trials, app.research.warmup_probe), before any fold runs; the
    acceptance thresholds are optional."""

    train: str | None = None
    test: str | None = None
    step: str | None = None
    folds: int | None = None
    train_ratio: float | None = None
    anchored: bool = False
    warmup_bars: int | None = None
    min_is_trades: int | None = None
    min_efficiency: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WalkRequest:
        known = set(cls.__dataclass_fields__)
        return cls(**{key: value for key, value in data.items() if key in known})


def scheme_of(walk: WalkRequest) -> FoldScheme:
    """The fold scheme of `walk`; ResearchInputError naming the field when it is incomplete."""
    if walk.folds is not None:
        if walk.train is not None or walk.test is not None:
            raise ResearchInputError(
                "folds", "give either folds with train_ratio, or train and test durations"
            )
        ratio = 0.75 if walk.train_ratio is None else walk.train_ratio
        return EqualFolds(walk.folds, ratio, is_anchored=walk.anchored)
    if walk.train is None or walk.test is None:
        raise ResearchInputError(
            "train", "give train and test durations (e.g. 180d and 60d), or a number of folds"
        )
    return DurationWindows(
        parse_duration(walk.train, "train"),
        parse_duration(walk.test, "test"),
        parse_duration(walk.step, "step") if walk.step is not None else None,
        is_anchored=walk.anchored,
    )


def build_walkforward(
    request: SweepRequest, walk: WalkRequest, base: PreparedRun
) -> tuple[WalkForwardSpec, FoldPlan]:
    """The checked WalkForwardSpec over `base` and its fold plan (ResearchInputError, one
    sentence naming the field, for anything that cannot run)."""
    defaults = base.inputs.inspection.defaults
    sweep = build_spec(request, defaults)
    spec = WalkForwardSpec(
        sweep=sweep,
        scheme=scheme_of(walk),
        warmup_bars=walk.warmup_bars,
        acceptance=Acceptance(min_trades=walk.min_is_trades, min_efficiency=walk.min_efficiency),
    )
    return spec, check_walkforward(base, spec)


def walk_of(spec_data: Mapping[str, Any]) -> WalkRequest | None:
    """The walk-forward part of a stored sweep spec (None for a plain sweep)."""
    walk = spec_data.get(WALK_KEY)
    return WalkRequest.from_dict(walk) if isinstance(walk, Mapping) else None
