"""The walk-forward's warm-up measured by probe trials before any fold runs: which params are
probed, the exact figure for a strategy whose warm-up follows a param and for one that sets
`warmup = "3d"`, and the fold plan refusing a first train window too short for it.

The market (tests/research/test_walkforward.py): 16 days of hourly bars from 2024-01-01
without 2024-01-11, 360 bars.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine import ParamValue
from app.research.errors import ResearchInputError
from app.research.folds import DurationWindows
from app.research.space import parse_space
from app.research.sweep import Constraints, Objective, SweepSpec
from app.research.walkforward import WalkForwardSpec, check_walkforward, with_measured_warmup
from app.research.warmup_probe import MAX_PROBES, probe_params
from app.runs import RunService
from app.runs.prepare import PreparedRun, with_params
from app.runs.trials import TrialFailed, TrialOutcome, TrialRun

from .test_walkforward import DAY, make_base

TIMED = """
class Timed(Strategy):
    params = {"fast": 3}
    warmup = "3d"

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])

    def on_data(self, bar):
        if self.fast[-1] > self.data.close[-1]:
            self.buy(0.1)
"""


def _spec(base: PreparedRun, ranges: list[str], train_days: int) -> WalkForwardSpec:
    sweep = SweepSpec(
        space=parse_space(ranges, base.inputs.inspection.defaults),
        method="grid",
        objectives=(Objective("total_return", "maximize"),),
        constraints=Constraints(),
        n_trials=None,
        seed=1,
    )
    return WalkForwardSpec(sweep, DurationWindows(train_days * DAY, 3 * DAY), warmup_bars=None)


def test_the_space_is_probed_at_its_corners_with_the_fixed_params() -> None:
    defaults: dict[str, ParamValue] = {"fast": 3, "slow": 8, "amount": 0.5, "kind": "x"}
    space = parse_space(["fast=2:5:2", "slow=8:40:16", "amount=0.25", "kind=x,y,z"], defaults)
    # fast's top is 4 (2 + 2), slow's 40; every option of a choice
    assert probe_params(space) == [
        {"amount": 0.25, "fast": fast, "slow": slow, "kind": kind}
        for fast in (2, 4)
        for slow in (8, 40)
        for kind in "xyz"
    ]


def test_a_space_with_too_many_corners_is_probed_at_its_two_extremes() -> None:
    defaults: dict[str, ParamValue] = {"a": 1, "b": 1.0, "c": 1, "d": 1, "e": 1, "kind": "x"}
    many = parse_space(["a=1:100", "b=0.5..2.5", "c=1:50", "d=2:60", "kind=x,y,z"], defaults)
    assert MAX_PROBES < 2**4 * 3
    assert probe_params(many) == [
        {"a": 1, "b": 0.5, "c": 1, "d": 2, "kind": "x"},
        {"a": 100, "b": 2.5, "c": 50, "d": 60, "kind": "z"},
    ]


def test_a_given_warm_up_is_not_measured(tmp_path: Path) -> None:
    base, _ = make_base(tmp_path)
    given = WalkForwardSpec(_spec(base, ["fast=2:4:2"], 6).sweep, DurationWindows(DAY, DAY), 5)
    assert with_measured_warmup(given, base) is given  # no probe run: nothing to wait for


@pytest.mark.slow
def test_a_warm_up_that_follows_a_param_is_measured_at_its_largest(tmp_path: Path) -> None:
    base, _ = make_base(tmp_path)
    # Probes at slow=8 and slow=40 on the first train window, 1d = 24 bars: sma(40) has no
    # value in them, so slow=40 is probed again on the whole period: its first value is at
    # bar 39, so 39 bars of warm-up (slow=8: 7).
    spec = with_measured_warmup(_spec(base, ["slow=8:40:16"], 1), base)
    assert (spec.warmup_bars, spec.warmup_note) == (39, "measured with slow=40")
    with pytest.raises(ResearchInputError) as caught:
        check_walkforward(base, spec)
    assert caught.value.field == "train"
    assert str(caught.value).endswith(
        "the shortest train window (1d) holds 24 bars of 1h, not more than the strategy's "
        "warm-up of 39 bars (measured with slow=40): lengthen the train window or "
        "search shorter lengths"
    )
    # Train 2d = 48 bars > 39: the folds test Jan 3-6, 6-9, 9-12 (Jan 11 missing: 48 bars) and
    # 12-15, each trained on the 2 days before it (fold 4 on Jan 10 alone: the bars before it
    # are history, the warm-up long over); bar indexes count from Jan 1 00:00.
    plan = check_walkforward(base, replace(spec, scheme=DurationWindows(2 * DAY, 3 * DAY)))
    assert plan.warmup_bars == 39
    assert [(f.train_first, f.train_stop, f.test_stop) for f in plan.folds] == [
        (0, 48, 120),
        (72, 120, 192),
        (144, 192, 240),
        (216, 240, 312),
    ]
    assert all(fold.is_runnable for fold in plan.folds)
    # exact: a standalone run at those params waits the same 39 bars
    run = RunService().run(with_params(base, {"slow": 40}), door="test", names={}).result
    assert run.metrics["warmup_bars"] == 39


@pytest.mark.slow
def test_an_explicit_duration_warm_up_is_measured_from_the_first_bar(tmp_path: Path) -> None:
    base, _ = make_base(tmp_path, TIMED)
    # warmup = "3d": on_data starts at the first bar at or after Jan 1 + 3 days, bar 72,
    # whatever fast is; train 4d (96 bars) holds more.
    spec = with_measured_warmup(_spec(base, ["fast=2:4:2"], 4), base)
    assert (spec.warmup_bars, spec.warmup_note) == (72, "measured with fast=2")
    plan = check_walkforward(base, spec)
    assert [(f.train_first, f.test_first) for f in plan.folds] == [
        (0, 96),
        (72, 168),
        (144, 240),  # the test window opens on the missing Jan 11: its first bar is Jan 12
        (216, 288),
    ]
    three_days = replace(spec, scheme=DurationWindows(3 * DAY, 3 * DAY))
    with pytest.raises(ResearchInputError, match=r"holds 72 bars of 1h, not more than the "
                       r"strategy's warm-up of 72 bars \(measured with fast=2\)"):  # fmt: skip
        check_walkforward(base, three_days)


class CannedTrials:
    """A trial-runner factory whose runners answer from a table instead of the sandbox:
    `figures[(window, slow)]` is (warmup_bars, bars) of a probe, window "train" or "whole"
    (told apart by the run's end); a missing entry is a failed trial."""

    def __init__(
        self, figures: dict[tuple[str, int], tuple[int, int]], whole_end: int | None
    ) -> None:
        self.figures = figures
        self.whole_end = whole_end
        self.batches: list[tuple[str, list[dict[str, ParamValue]]]] = []

    def __call__(self, base: PreparedRun, *, study_name: str, workers: int) -> Any:
        window = "whole" if base.inputs.config.end == self.whole_end else "train"
        canned = self

        class Runner:
            def __enter__(self) -> Runner:
                return self

            def __exit__(self, *exc_info: object) -> None:
                return None

            def run_batch(
                self,
                param_sets: Sequence[Mapping[str, ParamValue]],
                *,
                cancel: threading.Event | None = None,
                numbers: Sequence[int] | None = None,
            ) -> list[TrialOutcome | None]:
                canned.batches.append((window, [dict(p) for p in param_sets]))
                if cancel is not None and cancel.is_set():
                    return [None for _ in param_sets]
                return [canned.outcome(window, dict(p)) for p in param_sets]

        return Runner()

    def outcome(self, window: str, params: dict[str, ParamValue]) -> TrialOutcome:
        figure = self.figures.get((window, int(params["slow"])))
        if figure is None:
            return TrialFailed(params, "ValueError: boom.")
        metrics = {"metrics": {"bars": figure[1], "warmup_bars": figure[0]}}
        empty = np.zeros(0)
        return TrialRun(params, metrics, empty, empty.astype(np.int64), 0)


def _canned_spec(tmp_path: Path) -> tuple[PreparedRun, WalkForwardSpec]:
    base, _ = make_base(tmp_path)
    return base, _spec(base, ["slow=8:40:16"], 2)


def test_the_largest_probe_wins_and_an_unfinished_one_is_probed_on_the_whole_period(
    tmp_path: Path,
) -> None:
    base, spec = _canned_spec(tmp_path)
    # train window 48 bars: slow=8 waits 7; slow=40 never starts (48 of 48): whole period 39
    figures = {("train", 8): (7, 48), ("train", 40): (48, 48), ("whole", 40): (39, 360)}
    canned = CannedTrials(figures, whole_end=base.inputs.config.end)
    measured = with_measured_warmup(spec, base, trials=canned)
    assert (measured.warmup_bars, measured.warmup_note) == (39, "measured with slow=40")
    assert canned.batches == [("train", [{"slow": 8}, {"slow": 40}]), ("whole", [{"slow": 40}])]


def test_probes_that_all_fail_are_one_sentence_with_an_example(tmp_path: Path) -> None:
    base, spec = _canned_spec(tmp_path)
    with pytest.raises(ResearchInputError) as caught:
        with_measured_warmup(spec, base, trials=CannedTrials({}, base.inputs.config.end))
    assert caught.value.field == "warmup"
    assert str(caught.value).endswith(
        "the strategy's warm-up could not be measured: none of the 2 probe runs finished "
        "(slow=8: ValueError: boom.); fix the strategy or set the warm-up with --warmup BARS"
    )


def test_a_failed_corner_is_left_out(tmp_path: Path) -> None:
    base, spec = _canned_spec(tmp_path)
    canned = CannedTrials({("train", 40): (39, 48)}, base.inputs.config.end)
    assert with_measured_warmup(spec, base, trials=canned).warmup_bars == 39


def test_cancelled_while_probing_comes_back_unmeasured(tmp_path: Path) -> None:
    base, spec = _canned_spec(tmp_path)
    cancel = threading.Event()
    cancel.set()
    canned = CannedTrials({("train", 8): (7, 48)}, base.inputs.config.end)
    assert with_measured_warmup(spec, base, trials=canned, cancel=cancel) is spec


def test_a_warm_up_longer_than_the_data_is_refused_saying_so(tmp_path: Path) -> None:
    base, _ = make_base(tmp_path)
    spec = _spec(base, ["slow=8,400"], 6)
    # sma(400) on 360 bars: never starts, in the first train window or on the whole period
    figures = {("train", 8): (7, 144), ("train", 400): (144, 144), ("whole", 400): (360, 360)}
    measured = with_measured_warmup(spec, base, trials=CannedTrials(figures, None))
    with pytest.raises(ResearchInputError) as caught:
        check_walkforward(base, measured)
    assert (
        "warm-up of 360 bars (measured with slow=400; on_data would never be called on the "
        "data's 360 bars)" in str(caught.value)
    )
