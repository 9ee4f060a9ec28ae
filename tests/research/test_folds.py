"""Fold boundaries: rolling, anchored and equal folds on an hourly calendar with a gap."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import ns_to_iso
from app.engine.feed import IntArray
from app.research.errors import ResearchInputError
from app.research.folds import (
    DurationWindows,
    EqualFolds,
    format_duration,
    parse_duration,
    plan_folds,
)

HOUR = 3_600_000_000_000
DAY = 24 * HOUR


def _ns(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value)


def hourly_with_gap() -> IntArray:
    """Hourly bars 2024-01-01 00:00 .. 2024-01-30 23:00 (span Jan 1 - Jan 31) without the two
    days 2024-01-13 and 2024-01-14 (the gap): 720 - 48 = 672 bars."""
    times = np.arange(_ns("2024-01-01"), _ns("2024-01-31"), HOUR, dtype=np.int64)
    gap = (times >= _ns("2024-01-13")) & (times < _ns("2024-01-15"))
    return times[~gap]


def _table(scheme: DurationWindows | EqualFolds, warmup: int = 0) -> list[tuple[object, ...]]:
    plan = plan_folds(hourly_with_gap(), HOUR, scheme, warmup_bars=warmup)
    return [
        (
            ns_to_iso(f.train_start)[:16],
            ns_to_iso(f.test_start)[:16],
            ns_to_iso(f.test_end)[:16],
            f.train_bars,
            f.test_bars,
            f.is_runnable,
        )
        for f in plan.folds
    ]


def test_parse_duration_units() -> None:
    assert parse_duration("90m", "train") == 90 * 60 * 10**9
    assert parse_duration("12h", "train") == 12 * HOUR
    assert parse_duration("180d", "train") == 180 * DAY
    assert parse_duration("2w", "train") == 14 * DAY
    assert parse_duration("1.5d", "train") == 36 * HOUR
    assert format_duration(36 * HOUR) == "36h"
    assert format_duration(14 * DAY) == "2w"


@pytest.mark.parametrize("text", ["180", "180x", "d", "-5d", "", "1e3d"])
def test_bad_duration_is_one_sentence(text: str) -> None:
    with pytest.raises(ResearchInputError) as caught:
        parse_duration(text, "train")
    assert caught.value.field == "train"
    assert "e.g. 180d" in str(caught.value)


def test_zero_duration_refused() -> None:
    with pytest.raises(ResearchInputError, match="longer than zero"):
        parse_duration("0d", "test")


def test_rolling_on_a_calendar_with_gaps() -> None:
    # train 10d, test 5d, step = test: tests start Jan 11, 16, 21, 26, the last ends Jan 31.
    # Fold 1 tests Jan 11-16, which holds the gap (Jan 13, 14): 5 x 24 - 48 = 72 bars.
    # Fold 3 trains on Jan 11-21: 240 - 48 = 192 bars.
    assert _table(DurationWindows(10 * DAY, 5 * DAY)) == [
        ("2024-01-01T00:00", "2024-01-11T00:00", "2024-01-16T00:00", 240, 72, True),
        ("2024-01-06T00:00", "2024-01-16T00:00", "2024-01-21T00:00", 192, 120, True),
        ("2024-01-11T00:00", "2024-01-21T00:00", "2024-01-26T00:00", 192, 120, True),
        ("2024-01-16T00:00", "2024-01-26T00:00", "2024-01-31T00:00", 240, 120, True),
    ]


def test_anchored_on_a_calendar_with_gaps() -> None:
    # Same tests; every train window starts at the first bar (Jan 1) and grows by 5 days.
    assert _table(DurationWindows(10 * DAY, 5 * DAY, is_anchored=True)) == [
        ("2024-01-01T00:00", "2024-01-11T00:00", "2024-01-16T00:00", 240, 72, True),
        ("2024-01-01T00:00", "2024-01-16T00:00", "2024-01-21T00:00", 312, 120, True),
        ("2024-01-01T00:00", "2024-01-21T00:00", "2024-01-26T00:00", 432, 120, True),
        ("2024-01-01T00:00", "2024-01-26T00:00", "2024-01-31T00:00", 552, 120, True),
    ]


def test_step_longer_than_test_leaves_untested_gaps_and_a_tail() -> None:
    # step 7d: tests Jan 11-16, 18-23, 25-30; Jan 32 would pass the end, so the tail
    # Jan 30 - Jan 31 is tested by no fold.
    plan = plan_folds(hourly_with_gap(), HOUR, DurationWindows(10 * DAY, 5 * DAY, 7 * DAY))
    assert [ns_to_iso(f.test_start)[:10] for f in plan.folds] == [
        "2024-01-11",
        "2024-01-18",
        "2024-01-25",
    ]
    assert ns_to_iso(plan.tail_start)[:10] == "2024-01-30"
    assert ns_to_iso(plan.data_end)[:10] == "2024-01-31"


def test_a_test_window_inside_a_gap_is_skipped_with_its_reason() -> None:
    # test 2d: fold 2 tests Jan 13-15, exactly the gap.
    plan = plan_folds(hourly_with_gap(), HOUR, DurationWindows(10 * DAY, 2 * DAY))
    skipped = [f for f in plan.folds if not f.is_runnable]
    assert [f.number for f in skipped] == [2]
    assert skipped[0].test_bars == 0
    assert skipped[0].skip_reason is not None
    assert "has no bars" in skipped[0].skip_reason
    assert "2024-01-13" in skipped[0].skip_reason
    assert len(plan.runnable) == len(plan.folds) - 1


def test_equal_folds_tile_the_end_of_the_data() -> None:
    # span 720 h; fold = 720 / (0.75 + 4 x 0.25) = 411.43 h; test = floor(411.43 x 0.25) =
    # 102 h; train = 720 - 4 x 102 = 312 h (13 days). Tests start Jan 14 00:00 and step 102 h;
    # the last ends exactly at the end of the data (Jan 31 00:00).
    # Fold 1 trains Jan 1-14 without the gap day Jan 13: 288 bars; tests Jan 14 - Jan 18 06:00
    # without Jan 14: 78 bars. Folds 2 and 3 train over the whole gap (312 - 48 = 264 bars);
    # fold 4 from Jan 13 18:00, over the gap's last 30 hours (312 - 30 = 282 bars).
    assert _table(EqualFolds(4, 0.75)) == [
        ("2024-01-01T00:00", "2024-01-14T00:00", "2024-01-18T06:00", 288, 78, True),
        ("2024-01-05T06:00", "2024-01-18T06:00", "2024-01-22T12:00", 264, 102, True),
        ("2024-01-09T12:00", "2024-01-22T12:00", "2024-01-26T18:00", 264, 102, True),
        ("2024-01-13T18:00", "2024-01-26T18:00", "2024-01-31T00:00", 282, 102, True),
    ]


def test_equal_folds_anchored() -> None:
    rows = _table(EqualFolds(4, 0.75, is_anchored=True))
    assert {row[0] for row in rows} == {"2024-01-01T00:00"}
    # Fold 2 adds fold 1's test window (78 bars, the gap left out), then + 102 bars per fold.
    assert [row[3] for row in rows] == [288, 366, 468, 570]


def test_test_windows_never_overlap_and_train_ends_at_test_start() -> None:
    for scheme in (
        DurationWindows(3 * DAY, 2 * DAY),
        DurationWindows(3 * DAY, 2 * DAY, 3 * DAY, is_anchored=True),
        EqualFolds(6, 0.6),
    ):
        folds = plan_folds(hourly_with_gap(), HOUR, scheme).folds
        for fold, after in itertools.pairwise(folds):
            assert fold.train_end == fold.test_start
            assert after.test_start >= fold.test_end
            assert fold.test_stop <= after.test_first


@pytest.mark.parametrize(
    ("scheme", "field", "words"),
    [
        (DurationWindows(25 * DAY, 10 * DAY), "train", "longer than the data"),
        (DurationWindows(10 * DAY, 5 * DAY, 2 * DAY), "step", "would overlap"),
        (DurationWindows(10 * DAY, 0), "test", "positive duration"),
        (DurationWindows(-DAY, 5 * DAY), "train", "positive duration"),
        (DurationWindows(10 * DAY, HOUR // 2), "test", "shorter than one bar"),
        (EqualFolds(0, 0.75), "folds", "at least 1"),
        (EqualFolds(4, 1.0), "train_ratio", "between 0 and 1"),
        (EqualFolds(4, 0.0), "train_ratio", "between 0 and 1"),
        (EqualFolds(4, float("nan")), "train_ratio", "between 0 and 1"),
        (EqualFolds(2000, 0.5), "folds", "less than one bar"),
    ],
)
def test_bad_schemes_are_one_sentence(
    scheme: DurationWindows | EqualFolds, field: str, words: str
) -> None:
    with pytest.raises(ResearchInputError) as caught:
        plan_folds(hourly_with_gap(), HOUR, scheme)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_train_window_not_longer_than_the_warm_up_is_refused() -> None:
    # 2 days of hourly bars are 48 bars: not more than a warm-up of 48.
    with pytest.raises(ResearchInputError) as caught:
        plan_folds(hourly_with_gap(), HOUR, DurationWindows(2 * DAY, DAY), warmup_bars=48)
    assert caught.value.field == "train"
    assert "warm-up of 48 bars" in str(caught.value)
    plan = plan_folds(hourly_with_gap(), HOUR, DurationWindows(2 * DAY, DAY), warmup_bars=47)
    assert plan.warmup_bars == 47
    # The warm-up counts from the first bar, as the engine counts it: a later fold's train
    # trial has the bars before its window as history, so a train window the gap (Jan 13-14)
    # thins below 47 bars still trains on every bar it has: Jan 12-14 has 24, Jan 14-16 too.
    thin = [f for f in plan.folds if 0 < f.train_bars <= 47]
    assert [ns_to_iso(f.train_start)[:10] for f in thin] == ["2024-01-12", "2024-01-14"]
    assert thin[1].is_runnable  # (Jan 12's test window, Jan 14, is in the gap)
    skipped = [(ns_to_iso(f.train_start)[:10], f.skip_reason) for f in plan.folds if f.skip_reason]
    assert skipped == [
        ("2024-01-11", "the test window 2024-01-13T00:00:00Z to 2024-01-14T00:00:00Z has no "
         "bars (a gap in the data)"),
        ("2024-01-12", "the test window 2024-01-14T00:00:00Z to 2024-01-15T00:00:00Z has no "
         "bars (a gap in the data)"),
        ("2024-01-13", "the train window 2024-01-13T00:00:00Z to 2024-01-15T00:00:00Z has no "
         "bars (a gap in the data)"),
    ]  # fmt: skip


def test_a_first_train_window_thinned_by_a_gap_below_the_warm_up_is_skipped() -> None:
    # Hourly bars from Jan 1 with Jan 2 missing: the first train window Jan 1-3 holds 24 bars,
    # not more than a warm-up of 30 (its nominal 48 bars are), so fold 1 is skipped; fold 2
    # (train Jan 2-4: bars 24..47 of the data) trains on bars 30..47 once the warm-up is over.
    hours = np.arange(_ns("2024-01-01"), _ns("2024-01-10"), HOUR, dtype=np.int64)
    times: IntArray = hours[(hours < _ns("2024-01-02")) | (hours >= _ns("2024-01-03"))]
    plan = plan_folds(times, HOUR, DurationWindows(2 * DAY, DAY), warmup_bars=30)
    first, second = plan.folds[:2]
    assert first.train_bars == 24
    assert (
        first.skip_reason is not None and "none after the warm-up of 30 bars" in first.skip_reason
    )
    assert (second.train_first, second.train_stop, second.is_runnable) == (24, 48, True)


def test_no_runnable_fold_is_refused() -> None:
    times = np.array([_ns("2024-01-01") + i * HOUR for i in range(48)], dtype=np.int64)
    times = np.append(times, _ns("2024-03-01"))  # one bar long after: tests fall in the gap
    with pytest.raises(ResearchInputError, match="none of the"):
        plan_folds(times, HOUR, DurationWindows(3 * DAY, 5 * DAY))


@settings(max_examples=150, deadline=None)
@given(
    bars=st.integers(50, 600),
    gap=st.tuples(st.integers(0, 600), st.integers(0, 100)),
    train_h=st.integers(1, 200),
    test_h=st.integers(1, 100),
    extra_step_h=st.integers(0, 50),
    anchored=st.booleans(),
)
def test_duration_folds_invariants(
    bars: int,
    gap: tuple[int, int],
    train_h: int,
    test_h: int,
    extra_step_h: int,
    anchored: bool,
) -> None:
    grid = np.arange(bars, dtype=np.int64) * HOUR
    times: IntArray = np.delete(grid, range(gap[0], min(bars - 1, gap[0] + gap[1])))
    scheme = DurationWindows(
        train_h * HOUR, test_h * HOUR, (test_h + extra_step_h) * HOUR, anchored
    )
    try:
        plan = plan_folds(times, HOUR, scheme)
    except ResearchInputError:
        return
    for fold in plan.folds:
        assert fold.train_end == fold.test_start
        assert fold.test_end - fold.test_start == test_h * HOUR
        assert plan.data_start <= fold.train_start < fold.test_start < fold.test_end
        assert fold.test_end <= plan.data_end
        assert fold.train_start == plan.data_start if anchored else True
        inside = (times >= fold.test_start) & (times < fold.test_end)
        assert fold.test_bars == int(inside.sum())
        assert fold.is_runnable == (fold.test_bars > 0 and fold.train_bars > 0)
    for before, after in itertools.pairwise(plan.folds):
        assert after.test_start >= before.test_end  # test windows never overlap
    assert plan.data_end - plan.tail_start < test_h * HOUR + extra_step_h * HOUR


@settings(max_examples=150, deadline=None)
@given(bars=st.integers(20, 2000), folds=st.integers(1, 12), ratio=st.floats(0.05, 0.95))
def test_equal_folds_invariants(bars: int, folds: int, ratio: float) -> None:
    times = np.arange(bars, dtype=np.int64) * HOUR
    try:
        plan = plan_folds(times, HOUR, EqualFolds(folds, ratio))
    except ResearchInputError:
        return
    lengths = {f.test_end - f.test_start for f in plan.folds}
    assert len(plan.folds) == folds
    assert len(lengths) == 1  # equal test windows
    assert plan.folds[-1].test_end == plan.data_end  # tiling the end of the data exactly
    assert plan.folds[0].train_start == plan.data_start
    for before, after in itertools.pairwise(plan.folds):
        assert after.test_start == before.test_end
