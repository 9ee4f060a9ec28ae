"""One timeframe grammar: the engine's `parse_timeframe` decides what a timeframe string means,
and the data layer and a run's higher timeframes read every string the same way."""

from __future__ import annotations

import pandas as pd
import pytest

from app.data.errors import InvalidReferenceError
from app.data.resample import parse_timeframe as parse_data_timeframe
from app.engine.errors import IndicatorError, TimeframeError
from app.engine.timeframes import parse_duration_ns, parse_timeframe

MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS

FIXED = [
    ("1s", 1_000_000_000),
    ("1m", MINUTE_NS),
    ("15m", 15 * MINUTE_NS),
    ("4h", 4 * HOUR_NS),
    ("1d", DAY_NS),
    ("1w", 7 * DAY_NS),
    ("2w", 14 * DAY_NS),
    (" 4h ", 4 * HOUR_NS),  # surrounding spaces are ignored
    ("15min", 15 * MINUTE_NS),  # pandas aliases of fixed length
    ("60min", HOUR_NS),
    ("90s", 90_000_000_000),
    ("1D", DAY_NS),
    ("1.5h", 90 * MINUTE_NS),
]
MONTHS = [("1M", 1), ("3M", 3), ("1MS", 1), ("2ME", 2)]
REFUSED = ["fortnight", "0m", "-1h", "1x", "", "m", "W", "B", "1Y"]


@pytest.mark.parametrize(("text", "duration_ns"), FIXED)
def test_a_fixed_timeframe_has_one_length_in_the_engine_and_the_data_layer(
    text: str, duration_ns: int
) -> None:
    parsed = parse_timeframe(text)
    assert (parsed.duration_ns, parsed.months, parsed.is_calendar) == (duration_ns, None, False)
    assert parse_duration_ns(text) == duration_ns
    assert parse_data_timeframe(text).delta == pd.Timedelta(duration_ns, unit="ns")


@pytest.mark.parametrize(("text", "months"), MONTHS)
def test_months_are_calendar_bars_the_data_layer_keeps_and_a_run_refuses(
    text: str, months: int
) -> None:
    parsed = parse_timeframe(text)
    assert (parsed.duration_ns, parsed.months, parsed.is_calendar) == (None, months, True)
    data = parse_data_timeframe(text)
    assert data.is_calendar and data.offset == pd.offsets.MonthBegin(months)
    with pytest.raises(IndicatorError, match="calendar months"):
        parse_duration_ns(text)


def test_minutes_and_months_are_told_apart_by_case_in_both_layers() -> None:
    assert parse_timeframe("1m").duration_ns == MINUTE_NS
    assert parse_timeframe("1M").months == 1
    assert parse_data_timeframe("1m").delta == pd.Timedelta(minutes=1)
    assert parse_data_timeframe("1M").is_calendar


@pytest.mark.parametrize("text", REFUSED)
def test_a_string_outside_the_grammar_is_refused_by_every_layer(text: str) -> None:
    with pytest.raises(TimeframeError) as caught:
        parse_timeframe(text)
    assert caught.value.text == text.strip()
    assert "1h" in caught.value.message or "positive" in caught.value.message
    with pytest.raises(InvalidReferenceError):
        parse_data_timeframe(text)
    with pytest.raises(IndicatorError):
        parse_duration_ns(text)
