"""Validation reports each problem type with its code, severity, a specific message and times."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.data.problems import Problem, ProblemCode, ValidationReport
from app.data.samples import generate_ohlcv
from app.data.validation import ValidationRules, validate_funding, validate_ohlcv
from app.engine import Severity


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def rows() -> pd.DataFrame:
    """Sixty clean 1m bars from 2024-01-01 00:00 with `time` as a column, in file order."""
    return generate_ohlcv(bars=60, start="2024-01-01", seed=5).reset_index()


def only(report: ValidationReport, code: ProblemCode) -> Problem:
    found = [problem for problem in report.problems if problem.code is code]
    assert len(found) == 1, report.problems
    return found[0]


def test_clean_synthetic_data_has_no_problems() -> None:
    assert validate_ohlcv(generate_ohlcv(bars=50_000)).problems == ()


def test_unsorted_bars_are_a_warning_naming_the_first(rows: pd.DataFrame) -> None:
    rows.iloc[[10, 11]] = rows.iloc[[11, 10]].to_numpy()
    problem = only(validate_ohlcv(rows), ProblemCode.UNSORTED_BARS)
    assert problem.severity is Severity.WARNING
    assert problem.message == (
        "1 bar(s) are out of time order, first 2024-01-01T00:10:00Z after "
        "2024-01-01T00:11:00Z; they are sorted on import"
    )
    assert problem.first_time == utc("2024-01-01 00:10")


def test_exact_duplicates_are_a_warning(rows: pd.DataFrame) -> None:
    doubled = pd.concat([rows, rows.iloc[[5]]], ignore_index=True)
    problem = only(validate_ohlcv(doubled), ProblemCode.DUPLICATE_BARS)
    assert problem.severity is Severity.WARNING
    assert problem.message.startswith(
        "1 bar(s) repeat an earlier bar exactly, first at 2024-01-01T00:05:00Z"
    )


def test_conflicting_duplicates_are_fatal(rows: pd.DataFrame) -> None:
    other = rows.iloc[[5]].copy()
    other["volume"] += 1
    report = validate_ohlcv(pd.concat([rows, other], ignore_index=True))
    problem = only(report, ProblemCode.CONFLICTING_DUPLICATES)
    assert report.is_fatal and problem.severity is Severity.ERROR
    assert "share their time with a different bar, first at 2024-01-01T00:05:00Z" in problem.message


def test_gaps_are_reported_each_with_its_missing_bars_and_length(rows: pd.DataFrame) -> None:
    holey = rows.drop(index=[*range(20, 23), 40])
    gaps = [p for p in validate_ohlcv(holey, timeframe="1m").problems if p.code is ProblemCode.GAP]
    assert [(g.count, g.first_time, g.last_time) for g in gaps] == [
        (3, utc("2024-01-01 00:20"), utc("2024-01-01 00:22")),
        (1, utc("2024-01-01 00:40"), utc("2024-01-01 00:40")),
    ]
    assert (
        gaps[0].message
        == "3 bar(s) missing from 2024-01-01T00:20:00Z to 2024-01-01T00:22:00Z (a gap of 3m)"
    )
    assert all(g.severity is Severity.WARNING for g in gaps)


def test_gap_spacing_is_inferred_when_no_timeframe_is_given(rows: pd.DataFrame) -> None:
    assert only(validate_ohlcv(rows.drop(index=[30, 31])), ProblemCode.GAP).count == 2


def test_ohlc_violations_are_fatal_and_quote_the_bar(rows: pd.DataFrame) -> None:
    rows.loc[7, "high"] = rows.loc[7, ["open", "close"]].min() - 1
    rows.loc[9, "low"] = rows.loc[9, ["open", "close"]].max() + 1
    problem = only(validate_ohlcv(rows), ProblemCode.OHLC_VIOLATION)
    assert problem.severity is Severity.ERROR and problem.count == 2
    assert problem.message.startswith(
        "2 bar(s) break the OHLC rules (high below open/close or low above them), "
        "first at 2024-01-01T00:07:00Z with open="
    )
    assert problem.times == (utc("2024-01-01 00:07"), utc("2024-01-01 00:09"))


def test_non_positive_prices_are_fatal(rows: pd.DataFrame) -> None:
    rows.loc[12, ["open", "low"]] = [0.0, -1.0]
    problem = only(validate_ohlcv(rows), ProblemCode.NON_POSITIVE_PRICE)
    assert problem.severity is Severity.ERROR
    assert (
        problem.message == "1 bar(s) have a price of zero or below, first at 2024-01-01T00:12:00Z; "
        "prices must be positive"
    )


def test_negative_volume_is_fatal(rows: pd.DataFrame) -> None:
    rows.loc[3, "volume"] = -5.0
    assert only(validate_ohlcv(rows), ProblemCode.NEGATIVE_VOLUME).severity is Severity.ERROR


def test_nans_are_fatal_per_column(rows: pd.DataFrame) -> None:
    rows.loc[[4, 6], "close"] = np.nan
    problem = only(validate_ohlcv(rows), ProblemCode.MISSING_VALUES)
    assert problem.severity is Severity.ERROR
    assert (
        problem.message
        == "column close has 2 empty (NaN) value(s), first at 2024-01-01T00:04:00Z; "
        "fill or remove those bars"
    )


def test_an_extreme_spike_is_an_outlier_warning(rows: pd.DataFrame) -> None:
    rows.loc[30, ["open", "high", "low", "close"]] *= 1.5
    problem = only(validate_ohlcv(rows), ProblemCode.OUTLIER_RETURN)
    assert problem.severity is Severity.WARNING
    assert problem.first_time == utc("2024-01-01 00:30")
    assert "the largest +50.0% at 2024-01-01T00:30:00Z" in problem.message


def test_outlier_threshold_is_configurable(rows: pd.DataFrame) -> None:
    rows.loc[30, ["open", "high", "low", "close"]] *= 1.05
    assert ProblemCode.OUTLIER_RETURN not in validate_ohlcv(rows).codes()
    strict = ValidationRules(outlier_sigmas=5.0, outlier_min_return=0.01)
    assert ProblemCode.OUTLIER_RETURN in validate_ohlcv(rows, rules=strict).codes()


def test_zero_volume_runs_are_reported_from_the_minimum_length(rows: pd.DataFrame) -> None:
    rows.loc[10:15, "volume"] = 0.0  # six bars
    rows.loc[40:41, "volume"] = 0.0  # two bars: below the default minimum of five
    problem = only(validate_ohlcv(rows), ProblemCode.ZERO_VOLUME_RUN)
    assert (
        problem.message == "volume is zero for 6 consecutive bar(s) from 2024-01-01T00:10:00Z "
        "to 2024-01-01T00:15:00Z"
    )
    runs = validate_ohlcv(rows, rules=ValidationRules(min_zero_volume_run=2)).problems
    assert [p.count for p in runs if p.code is ProblemCode.ZERO_VOLUME_RUN] == [6, 2]


def test_no_rows_is_fatal() -> None:
    report = validate_ohlcv(generate_ohlcv(bars=0))
    assert [p.code for p in report.fatal] == [ProblemCode.EMPTY]


def test_fatal_problems_come_first_and_the_summary_counts_both(rows: pd.DataFrame) -> None:
    rows.loc[3, "volume"] = np.nan
    report = validate_ohlcv(rows.drop(index=[20]))
    assert [p.severity for p in report.problems] == [Severity.ERROR, Severity.WARNING]
    assert report.summary() == "1 fatal problem(s) and 1 warning(s)"


def test_reports_round_trip_through_json(rows: pd.DataFrame) -> None:
    rows.loc[3, "volume"] = np.nan
    report = validate_ohlcv(rows.drop(index=[20, 21]))
    assert ValidationReport.from_dict(json.loads(json.dumps(report.to_dict()))) == report


def test_funding_series_are_checked_for_order_duplicates_and_nans() -> None:
    times = pd.to_datetime(["2024-01-01 08:00", "2024-01-01 00:00", "2024-01-01 08:00"], utc=True)
    frame = pd.DataFrame({"time": times, "funding_rate": [0.0001, np.nan, 0.0002]})
    assert validate_funding(frame).codes() == {
        ProblemCode.UNSORTED_BARS,
        ProblemCode.CONFLICTING_DUPLICATES,
        ProblemCode.MISSING_VALUES,
    }


@settings(max_examples=30, deadline=None)
@given(drop=st.sets(st.integers(min_value=1, max_value=198), max_size=20))
def test_gap_counts_add_up_to_the_bars_removed(drop: set[int]) -> None:
    frame = generate_ohlcv(bars=200, seed=1).reset_index().drop(index=sorted(drop))
    gaps = [p for p in validate_ohlcv(frame, timeframe="1m").problems if p.code is ProblemCode.GAP]
    assert sum(gap.count for gap in gaps) == len(drop)
