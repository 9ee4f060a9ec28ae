"""Walk-forward fold boundaries: rolling, anchored and equal-size folds over a bar calendar.

Boundaries are times (epoch ns UTC), every window half-open `[start, end)`; a bar belongs to a
window when its open time is inside it, so a calendar with gaps (missing bars) moves no
boundary, it only leaves fewer bars in a window. The data span is `[first bar open, last bar
open + one bar)`.

Two ways to lay folds out (docs/research.md, "Walk-forward"):

- Durations (`--train 180d --test 60d [--step 60d] [--anchored]`): fold k (k = 0, 1, ...) tests
  `[t0 + train + k*step, t0 + train + k*step + test)` and trains on the `train` before it
  (rolling) or on everything from t0 (anchored). Only whole test windows are laid out; a tail
  shorter than one test window stays untested (`FoldPlan.tail_start`). `step` defaults to
  `test` and may not be shorter (test windows never overlap).
- Equal folds (`--folds N --train-ratio r`): N test windows of equal length tile the end of
  the data exactly, each `test = floor(span (1 - r) / (r + N (1 - r)))` rounded down to whole
  bars; the train window is the rest of the span before the first test window
  (`train = span - N test`, so train / (train + test) ~ r), rolled forward by one test window
  per fold, or anchored at t0.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

import numpy as np

from app.engine import ns_to_iso
from app.engine.feed import IntArray
from app.research.errors import ResearchInputError

NS_PER_MINUTE: Final = 60_000_000_000
DURATION_UNITS: Final[dict[str, int]] = {
    "m": NS_PER_MINUTE,
    "h": 60 * NS_PER_MINUTE,
    "d": 24 * 60 * NS_PER_MINUTE,
    "w": 7 * 24 * 60 * NS_PER_MINUTE,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*$")


def parse_duration(text: str, field: str) -> int:
    """`180d`, `12h`, `90m`, `2w` (minutes, hours, days, weeks) as nanoseconds.

    ResearchInputError(field) for anything else, and for a zero length.
    """
    match = _DURATION.match(text)
    if match is None:
        raise ResearchInputError(
            field,
            f"{text!r} is not a duration: write a number and a unit m, h, d or w, e.g. 180d",
        )
    ns = round(float(match.group(1)) * DURATION_UNITS[match.group(2)])
    if ns <= 0:
        raise ResearchInputError(field, f"{text!r} must be longer than zero")
    return ns


def format_duration(ns: int) -> str:
    """Nanoseconds in the largest unit that divides them (`60d`, `36h`, `90m`), else hours."""
    for unit in ("w", "d", "h", "m"):
        size = DURATION_UNITS[unit]
        if ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns / DURATION_UNITS['h']:g}h"


@dataclass(frozen=True, slots=True)
class DurationWindows:
    """Folds by duration: train and test lengths and the step between folds (ns)."""

    train_ns: int
    test_ns: int
    step_ns: int | None = None  # None: the test length
    is_anchored: bool = False


@dataclass(frozen=True, slots=True)
class EqualFolds:
    """`folds` equal test windows tiling the end of the data; train ~ `train_ratio` of a fold."""

    folds: int
    train_ratio: float
    is_anchored: bool = False


FoldScheme = DurationWindows | EqualFolds


@dataclass(frozen=True, slots=True)
class Fold:
    """One fold: its windows as times (half-open, epoch ns) and as bar index ranges
    `[first, stop)` into the `times` it was planned over. `skip_reason` says in one sentence
    why the fold cannot be run."""

    number: int  # 1-based
    train_start: int
    train_end: int
    test_start: int
    test_end: int
    train_first: int
    train_stop: int
    test_first: int
    test_stop: int
    skip_reason: str | None = None

    @property
    def train_bars(self) -> int:
        return self.train_stop - self.train_first

    @property
    def test_bars(self) -> int:
        return self.test_stop - self.test_first

    @property
    def is_runnable(self) -> bool:
        return self.skip_reason is None


@dataclass(frozen=True, slots=True)
class FoldPlan:
    """The folds of one walk-forward over one calendar; the data after `tail_start` (the last
    test window's end) is tested by no fold."""

    folds: tuple[Fold, ...]
    data_start: int
    data_end: int  # last bar open + one bar
    bar_ns: int
    tail_start: int
    warmup_bars: int = 0  # the warm-up the plan was checked with (bars from the first bar)
    warmup_note: str | None = None  # how it was found ("measured with slow=200"); None: given

    @property
    def runnable(self) -> tuple[Fold, ...]:
        return tuple(fold for fold in self.folds if fold.is_runnable)


def plan_folds(
    times: IntArray,
    bar_ns: int,
    scheme: FoldScheme,
    *,
    warmup_bars: int = 0,
    warmup_note: str | None = None,
) -> FoldPlan:
    """The folds of `scheme` over bars opening at `times` (sorted epoch ns, base bar `bar_ns`).

    `warmup_bars` is the strategy's warm-up: the bars of `times` before its on_data starts
    (counted from the first bar, as the engine counts it: app/engine/warmup.py), measured
    (`warmup_note` says how, e.g. "measured with slow=200") or given with --warmup (None). The
    first train window, which starts at the first bar, must hold more bars than it; a later
    fold's train trial has the bars before its window as history, so it trades from its
    window's first bar once the warm-up is over. Raises ResearchInputError (one sentence naming
    the option) when the scheme cannot fit the data at all; a single fold that a gap in the data
    leaves without bars (or without bars after the warm-up) is kept with its `skip_reason`.
    Pure: no I/O.
    """
    if len(times) == 0:
        raise ResearchInputError("data", "the data has no bars")
    if warmup_bars < 0:
        raise ResearchInputError("warmup", f"must be 0 or more bars, got {warmup_bars}")
    data_start = int(times[0])
    data_end = int(times[-1]) + bar_ns
    if isinstance(scheme, DurationWindows):
        starts = _duration_windows(scheme, data_start, data_end, bar_ns)
        train_field = "train"
    else:
        starts = _equal_folds(scheme, data_start, data_end, bar_ns)
        train_field = "train_ratio"
    shortest_train = min(test_start - train_start for train_start, test_start, _ in starts)
    nominal_bars = shortest_train // bar_ns
    if nominal_bars <= warmup_bars:
        source = "lower --warmup" if warmup_note is None else "search shorter lengths"
        how = "" if warmup_note is None else f" ({warmup_note})"
        raise ResearchInputError(
            train_field,
            f"the shortest train window ({format_duration(shortest_train)}) holds "
            f"{nominal_bars} bars of {format_duration(bar_ns)}, not more than the strategy's "
            f"warm-up of {warmup_bars} bars{how}: lengthen the train window or {source}",
        )
    folds = tuple(
        _fold(number, window, times, warmup_bars) for number, window in enumerate(starts, start=1)
    )
    if not any(fold.is_runnable for fold in folds):
        raise ResearchInputError(
            "test",
            f"none of the {len(folds)} folds can run ({folds[0].skip_reason}): "
            "the data has too many gaps for these windows",
        )
    return FoldPlan(
        folds,
        data_start,
        data_end,
        bar_ns,
        tail_start=starts[-1][2],
        warmup_bars=warmup_bars,
        warmup_note=warmup_note,
    )


def _check_length(field: str, ns: int, bar_ns: int) -> None:
    if ns <= 0:
        raise ResearchInputError(field, "must be a positive duration such as 60d")
    if ns < bar_ns:
        raise ResearchInputError(
            field,
            f"{format_duration(ns)} is shorter than one bar of the data "
            f"({format_duration(bar_ns)}): use at least one bar",
        )


def _duration_windows(
    scheme: DurationWindows, data_start: int, data_end: int, bar_ns: int
) -> list[tuple[int, int, int]]:
    """(train start, test start, test end) of each fold laid out by durations."""
    _check_length("train", scheme.train_ns, bar_ns)
    _check_length("test", scheme.test_ns, bar_ns)
    step = scheme.test_ns if scheme.step_ns is None else scheme.step_ns
    _check_length("step", step, bar_ns)
    if step < scheme.test_ns:
        raise ResearchInputError(
            "step",
            f"{format_duration(step)} is shorter than the test window "
            f"({format_duration(scheme.test_ns)}), so test windows would overlap: "
            "use a step of at least the test window",
        )
    span = data_end - data_start
    if scheme.train_ns + scheme.test_ns > span:
        raise ResearchInputError(
            "train",
            f"a train window ({format_duration(scheme.train_ns)}) plus a test window "
            f"({format_duration(scheme.test_ns)}) is longer than the data "
            f"({span / DURATION_UNITS['d']:g} days, {ns_to_iso(data_start)} to "
            f"{ns_to_iso(data_end)}): shorten --train or --test",
        )
    windows: list[tuple[int, int, int]] = []
    test_start = data_start + scheme.train_ns
    while test_start + scheme.test_ns <= data_end:
        train_start = data_start if scheme.is_anchored else test_start - scheme.train_ns
        windows.append((train_start, test_start, test_start + scheme.test_ns))
        test_start += step
    return windows


def _equal_folds(
    scheme: EqualFolds, data_start: int, data_end: int, bar_ns: int
) -> list[tuple[int, int, int]]:
    """(train start, test start, test end) of each of the equal folds (module docstring)."""
    if isinstance(scheme.folds, bool) or scheme.folds < 1:
        raise ResearchInputError(
            "folds", f"must be a whole number of at least 1, got {scheme.folds}"
        )
    ratio = scheme.train_ratio
    if not (math.isfinite(ratio) and 0.0 < ratio < 1.0):
        raise ResearchInputError(
            "train_ratio", f"must be between 0 and 1 (excluded), e.g. 0.75, got {ratio:g}"
        )
    span = data_end - data_start
    fold_ns = span / (ratio + scheme.folds * (1.0 - ratio))
    test_ns = math.floor(fold_ns * (1.0 - ratio) / bar_ns) * bar_ns
    if test_ns < bar_ns:
        raise ResearchInputError(
            "folds",
            f"{scheme.folds} folds with train ratio {ratio:g} leave less than one bar per "
            f"test window in {format_duration(span)} of data: use fewer folds or a lower "
            "--train-ratio",
        )
    train_ns = span - scheme.folds * test_ns
    windows: list[tuple[int, int, int]] = []
    for k in range(scheme.folds):
        test_start = data_start + train_ns + k * test_ns
        train_start = data_start if scheme.is_anchored else test_start - train_ns
        windows.append((train_start, test_start, test_start + test_ns))
    return windows


def _fold(number: int, window: tuple[int, int, int], times: IntArray, warmup_bars: int) -> Fold:
    train_start, test_start, test_end = window
    train_first, test_first, test_stop = (
        int(i) for i in np.searchsorted(times, [train_start, test_start, test_end], side="left")
    )
    train_bars = test_first - train_first
    # the train trial's on_data runs on the window's bars from the end of the warm-up (counted
    # from the first bar of the data; earlier folds' bars are history to a later one)
    trained_bars = test_first - max(warmup_bars, train_first)
    reason: str | None = None
    if test_stop == test_first:
        reason = (
            f"the test window {ns_to_iso(test_start)} to {ns_to_iso(test_end)} has no bars "
            "(a gap in the data)"
        )
    elif trained_bars <= 0:
        train = f"the train window {ns_to_iso(train_start)} to {ns_to_iso(test_start)}"
        reason = (
            f"{train} has no bars (a gap in the data)"
            if train_bars == 0
            else f"{train} has {train_bars} bars, none after the warm-up of {warmup_bars} "
            "bars from the first bar (a gap in the data)"
        )
    return Fold(
        number=number,
        train_start=train_start,
        train_end=test_start,
        test_start=test_start,
        test_end=test_end,
        train_first=train_first,
        train_stop=test_first,
        test_first=test_first,
        test_stop=test_stop,
        skip_reason=reason,
    )
