"""Resampling: OHLCV aggregation into UTC-aligned, left-labelled bins, identical to pandas."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.data.errors import InvalidReferenceError
from app.data.resample import canonical_timeframe, parse_timeframe, resample_ohlcv
from app.data.samples import generate_ohlcv

AGGREGATION = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}


def pandas_reference(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    """The plain pandas computation the store's resample must equal."""
    bins = frame.resample(rule, label="left", closed="left", origin="epoch")
    return bins.agg(AGGREGATION).loc[bins.size() > 0]


@pytest.mark.parametrize(
    ("timeframe", "rule"),
    [("5m", "5min"), ("15m", "15min"), ("1h", "1h"), ("4h", "4h"), ("1d", "24h")],
)
def test_matches_pandas_exactly(timeframe: str, rule: str, bars: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(resample_ohlcv(bars, timeframe), pandas_reference(bars, rule))


def test_a_worked_example_of_ohlcv_aggregation() -> None:
    index = pd.date_range("2024-01-01", periods=4, freq="1min", tz="UTC", name="time")
    frame = pd.DataFrame(
        {
            "open": [10.0, 11, 12, 13],
            "high": [11.0, 15, 12, 14],
            "low": [9.0, 10, 8, 12],
            "close": [11.0, 12, 13, 12],
            "volume": [1.0, 2, 3, 4],
        },
        index=index,
    )
    result = resample_ohlcv(frame, "2m")
    assert result.to_dict("list") == {
        "open": [10.0, 12.0],
        "high": [15.0, 14.0],
        "low": [9.0, 8.0],
        "close": [12.0, 12.0],
        "volume": [3.0, 7.0],
    }


def test_bins_align_to_utc_not_to_the_first_bar() -> None:
    frame = generate_ohlcv(bars=600, start="2024-01-01 01:37")
    result = resample_ohlcv(frame, "4h")
    assert list(result.index[:2]) == [
        pd.Timestamp("2024-01-01 00:00", tz="UTC"),
        pd.Timestamp("2024-01-01 04:00", tz="UTC"),
    ]


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    frame = generate_ohlcv(bars=40, timeframe="1d", start="2024-01-03")
    assert resample_ohlcv(frame, "1w").index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert list(resample_ohlcv(frame, "1M").index) == [
        pd.Timestamp("2024-01-01", tz="UTC"),
        pd.Timestamp("2024-02-01", tz="UTC"),
    ]


def test_empty_bins_are_dropped_not_filled(bars: pd.DataFrame) -> None:
    holey = bars.drop(bars.index[60:180])  # two missing hours
    result = resample_ohlcv(holey, "1h")
    assert pd.Timestamp("2024-01-01 01:00", tz="UTC") not in result.index
    assert not result.isna().any().any()


@settings(max_examples=40, deadline=None)
@given(
    bars=st.integers(min_value=1, max_value=400),
    step=st.sampled_from(["2m", "3m", "7m", "30m", "1h", "90m"]),
    seed=st.integers(min_value=0, max_value=2**16),
)
def test_resampled_bars_keep_ohlc_invariants_and_totals(bars: int, step: str, seed: int) -> None:
    frame = generate_ohlcv(bars=bars, seed=seed, start="2024-01-01 00:13")
    result = resample_ohlcv(frame, step)
    assert result["volume"].sum() == pytest.approx(frame["volume"].sum())
    assert result["high"].max() == frame["high"].max()
    assert result["low"].min() == frame["low"].min()
    assert result["open"].iloc[0] == frame["open"].iloc[0]
    assert result["close"].iloc[-1] == frame["close"].iloc[-1]
    assert (result["high"] >= result[["open", "close"]].max(axis=1)).all()
    assert (result["low"] <= result[["open", "close"]].min(axis=1)).all()


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1m", "1m"),
        ("60min", "1h"),
        ("1D", "1d"),
        ("1440m", "1d"),
        ("15min", "15m"),
        ("1w", "1w"),
        ("1M", "1M"),
    ],
)
def test_timeframes_have_one_canonical_spelling(text: str, canonical: str) -> None:
    assert canonical_timeframe(text) == canonical


def test_minutes_and_months_are_told_apart_by_case() -> None:
    assert parse_timeframe("1m").delta == pd.Timedelta(minutes=1)
    assert parse_timeframe("1M").is_calendar


@pytest.mark.parametrize("text", ["fortnight", "0m", "-1h"])
def test_unknown_timeframes_are_refused_with_examples(text: str) -> None:
    with pytest.raises(InvalidReferenceError, match="timeframe"):
        parse_timeframe(text)
