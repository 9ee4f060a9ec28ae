"""The exact warm-up of a walk-forward's strategy, measured before any fold runs: probe trials of
the first train window at the corners of the search space, each reporting the warm-up its own
run decided (`warmup_bars`, app/engine/warmup.py).

Why trials: the warm-up is decided by the engine after `initialize()` from the indicators it
declared (or the strategy's `warmup`, which `initialize()` may compute from the params), and the
strategy is untrusted code, so only a sandboxed run can find it. A probe is exactly a train
trial of the first fold (the same prepared run, the trial runner the folds use, the shared
indicators), so its figure is the one the fold's trials will meet; the bars before the
walk-forward's start warm up too, as in every run.

Which params: the corners of the space (each int or float range's two ends, every option of
a choice), when they are at most MAX_PROBES; otherwise the two extreme corners (every range at
its low end, every range at its top end; a choice's first and last option). Lengths and
warm-ups grow with their params, so the largest is at a corner; it is the walk-forward's. Each
probe is a sandboxed run (about as long as one trial on the first train window), which is why
they are few.

A probe whose strategy never starts inside the first train window (on_data not called on any
of its bars) is run again on the whole period, so the refusal says the real warm-up ("... the
strategy's warm-up of 199 bars ..."), not only that the window is short.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from app.engine import ParamValue
from app.research.errors import ResearchInputError
from app.research.space import Choice, FloatRange, IntRange, SearchSpace
from app.research.sweep import TrialRunnerFactory
from app.runs.prepare import PreparedRun

if TYPE_CHECKING:
    from app.runs.trials import TrialRun

MAX_PROBES: Final = 16
FIELD: Final = "warmup"


@dataclass(frozen=True, slots=True)
class MeasuredWarmup:
    """The walk-forward's warm-up: `bars` of its data before on_data starts (the largest over
    the probes), the `params` that need it, how many probes ran, and `never_ready` when even
    the whole period is too short (then `bars` is all of its bars)."""

    bars: int
    params: dict[str, ParamValue]
    probes: int
    never_ready: bool = False

    def describe(self) -> str:
        """`measured with fast=4, slow=12` (params by name): what the fold plan's refusal
        quotes."""
        shown = _shown(self.params)
        return f"measured with {shown}" if self.params else "measured with the default params"


def probe_params(space: SearchSpace) -> list[dict[str, ParamValue]]:
    """The param sets the warm-up is measured at (module docstring), fixed params included,
    in a stable order."""
    fixed = space.fixed()
    searched = space.searched()
    axes = [_ends(item) for item in searched]
    if _product(axes) > MAX_PROBES:
        lows = {item.name: values[0] for item, values in zip(searched, axes, strict=True)}
        tops = {item.name: values[-1] for item, values in zip(searched, axes, strict=True)}
        return [{**fixed, **lows}, {**fixed, **tops}]
    names = [item.name for item in searched]
    return [{**fixed, **dict(zip(names, point, strict=True))} for point in itertools.product(*axes)]


def _ends(item: IntRange | FloatRange | Choice) -> list[ParamValue]:
    if isinstance(item, Choice):
        return list(item.options)
    return [item.low, item.top] if item.top != item.low else [item.low]


def _product(axes: Sequence[Sequence[ParamValue]]) -> int:
    count = 1
    for values in axes:
        count *= len(values)
    return count


def measure_warmup(
    first_train: PreparedRun,
    whole: PreparedRun,
    space: SearchSpace,
    *,
    trials: TrialRunnerFactory,
    study_name: str,
    workers: int,
    cancel: threading.Event | None = None,
) -> MeasuredWarmup:
    """The warm-up over `space` (module docstring): probe trials of `first_train` (the first
    fold's train run), and of `whole` (the walk-forward's whole period) for the probes whose
    warm-up did not end inside the window. `study_name` names the probes' runner (a remote
    runner keys its trials on it). Raises ResearchInputError("warmup") when no probe finished.
    """
    params = probe_params(space)
    figures, failure = _probe(first_train, params, trials, f"{study_name}-train", workers, cancel)
    unready = [p for p, f in zip(params, figures, strict=True) if f is not None and f[1]]
    if unready:
        again, _ = _probe(whole, unready, trials, f"{study_name}-whole", workers, cancel)
        longer = {_key(p): f for p, f in zip(unready, again, strict=True) if f is not None}
        figures = [
            longer.get(_key(p), f) if f is not None and f[1] else f
            for p, f in zip(params, figures, strict=True)
        ]
    measured = [(p, f) for p, f in zip(params, figures, strict=True) if f is not None]
    if not measured:
        example = f" ({failure})" if failure else ""
        raise ResearchInputError(
            FIELD,
            "the strategy's warm-up could not be measured: none of the "
            f"{len(params)} probe runs finished{example}; fix the strategy or set the warm-up "
            "with --warmup BARS",
        )
    chosen, (bars, never_ready) = max(measured, key=lambda item: item[1][0])
    return MeasuredWarmup(bars, chosen, len(params), never_ready)


Figure = tuple[int, bool]
"""A probe's warm-up bars and whether on_data never ran (the warm-up outlasted the run)."""


def _probe(
    base: PreparedRun,
    params: list[dict[str, ParamValue]],
    trials: TrialRunnerFactory,
    study_name: str,
    workers: int,
    cancel: threading.Event | None,
) -> tuple[list[Figure | None], str | None]:
    """Each param set's figure (None for a probe that failed or was cancelled: a strategy
    that fails at some params is that trial's problem, not the walk-forward's), and the first
    failure as "slow=8: <its reason>"."""
    from app.runs.trials import TrialFailed, TrialRun  # imported here, as app.research.sweep

    count = max(1, min(workers, len(params)))
    with trials(base, study_name=study_name, workers=count) as runner:
        outcomes = runner.run_batch(params, cancel=cancel, numbers=list(range(len(params))))
    failures = [
        f"{_shown(p)}: {outcome.reason}"
        for p, outcome in zip(params, outcomes, strict=True)
        if isinstance(outcome, TrialFailed)
    ]
    figures = [_figure(outcome) if isinstance(outcome, TrialRun) else None for outcome in outcomes]
    return figures, failures[0] if failures else None


def _shown(params: Mapping[str, ParamValue]) -> str:
    return ", ".join(f"{name}={value}" for name, value in sorted(params.items())) or "defaults"


def _figure(outcome: TrialRun) -> Figure:
    values: Mapping[str, object] = outcome.figures
    bars, traded = values.get("warmup_bars"), values.get("bars")
    if type(bars) is not int or type(traded) is not int:
        raise ResearchInputError(FIELD, "a probe run reported no warm-up; set --warmup BARS")
    return bars, bars >= traded


def _key(params: Mapping[str, ParamValue]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((name, repr(value)) for name, value in params.items()))


__all__ = ["MAX_PROBES", "MeasuredWarmup", "measure_warmup", "probe_params"]
