"""The look-ahead check on values: several deterministic cuts, columns compared as sets, NaN
handled explicitly, and run for every indicator request."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pytest

from app.engine import IndicatorError
from app.engine import indicators as indicators_module
from app.engine.feed import FloatArray
from app.engine.indicator_rules import IndicatorArg
from app.engine.indicators import compute_indicator
from app.engine.repaint import (
    CUT_OFFSETS,
    Compute,
    check_prefix_stable,
    cut_points,
    first_value_index,
    mismatched_bars,
)

BARS = 700


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(9)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, BARS)))
    index = pd.date_range("2024-01-01", periods=BARS, freq="h", tz="UTC", name="time")
    return pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1.0},
        index=index,
    )


def rolling_mean(frame: pd.DataFrame, length: int) -> FloatArray:
    return frame["close"].rolling(length).mean().to_numpy(dtype=np.float64)


def shifted_compute(shift: int, length: int = 5) -> Compute:
    """A fake indicator: a rolling mean moved `shift` bars (negative: from the future)."""

    def compute(
        part: pd.DataFrame, name: str, settings: Mapping[str, IndicatorArg]
    ) -> dict[str, FloatArray]:
        values = pd.Series(rolling_mean(part, length)).shift(shift).to_numpy(dtype=np.float64)
        return {"FAKE": values}

    return compute


def test_cuts_are_several_fixed_distances_after_the_first_value() -> None:
    assert cut_points(10_000, 300) == [300 + step for step in CUT_OFFSETS]
    assert cut_points(10_000, 300) == cut_points(10_000, 300)  # deterministic
    assert cut_points(320, 300) == [301, 302, 309]
    assert cut_points(2, 5) == [1]  # never fewer than one cut while there are two bars


def test_the_first_value_is_the_earliest_over_every_column() -> None:
    late = np.r_[np.full(50, np.nan), np.ones(10)]
    early = np.r_[np.full(20, np.nan), np.ones(40)]
    assert first_value_index({"a": late, "b": early}) == 20
    assert first_value_index({"a": np.full(5, np.nan)}) == 0


@pytest.mark.parametrize(
    ("prefix", "whole", "mismatch"),
    [
        pytest.param([np.nan], [np.nan], [False], id="nan-nan-agree"),
        pytest.param([np.nan], [1.0], [True], id="nan-against-value"),
        pytest.param([1.0], [np.nan], [True], id="value-against-nan"),
        pytest.param([1.0], [1.0 + 1e-12], [False], id="within-tolerance"),
        pytest.param([1.0], [1.001], [True], id="different"),
        pytest.param([np.inf], [np.inf], [False], id="same-infinity"),
        pytest.param([np.inf], [-np.inf], [True], id="opposite-infinities"),
    ],
)
def test_nan_is_compared_explicitly(
    prefix: list[float], whole: list[float], mismatch: list[bool]
) -> None:
    found = mismatched_bars(np.array(prefix), np.array(whole))
    assert found.tolist() == mismatch


@pytest.mark.parametrize("shift", [-1, -2, -9, -60])
def test_cant_look_ahead_through_a_shift_towards_the_past(frame: pd.DataFrame, shift: int) -> None:
    whole = shifted_compute(shift)(frame, "fake", {})
    with pytest.raises(IndicatorError, match="changes when later bars are added"):
        check_prefix_stable(frame, "fake", {}, whole, shifted_compute(shift))


def test_cant_look_ahead_behind_a_long_warm_up(frame: pd.DataFrame) -> None:
    # 400 bars of NaN first: a single early cut would compare NaN with NaN and pass.
    compute = shifted_compute(-3, length=400)
    whole = compute(frame, "fake", {})
    with pytest.raises(IndicatorError, match="changes when later bars are added"):
        check_prefix_stable(frame, "fake", {}, whole, compute)


def test_causal_values_pass_every_cut(frame: pd.DataFrame) -> None:
    compute = shifted_compute(3)
    check_prefix_stable(frame, "fake", {}, compute(frame, "fake", {}), compute)


def test_cant_look_ahead_through_a_column_only_short_data_has(frame: pd.DataFrame) -> None:
    def compute(
        part: pd.DataFrame, name: str, settings: Mapping[str, IndicatorArg]
    ) -> dict[str, FloatArray]:
        values = rolling_mean(part, 5)
        return {"A": values} if len(part) == BARS else {"A": values, "EXTRA": values}

    with pytest.raises(IndicatorError, match="columns change"):
        check_prefix_stable(frame, "fake", {}, compute(frame, "fake", {}), compute)


def test_a_column_missing_from_a_prefix_must_be_nan_in_the_whole_data(
    frame: pd.DataFrame,
) -> None:
    def compute(
        part: pd.DataFrame, name: str, settings: Mapping[str, IndicatorArg]
    ) -> dict[str, FloatArray]:
        values = rolling_mean(part, 5)
        return {"A": values, "B": values} if len(part) == BARS else {"A": values}

    with pytest.raises(IndicatorError, match="value at bar 4 changes"):
        check_prefix_stable(frame, "fake", {}, compute(frame, "fake", {}), compute)


def test_an_indicator_that_no_prefix_can_compute_is_refused(frame: pd.DataFrame) -> None:
    def compute(
        part: pd.DataFrame, name: str, settings: Mapping[str, IndicatorArg]
    ) -> dict[str, FloatArray]:
        if len(part) < BARS:
            raise IndicatorError("needs more bars")
        return {"A": rolling_mean(part, 5)}

    with pytest.raises(IndicatorError, match="cannot be checked for look-ahead"):
        check_prefix_stable(frame, "fake", {}, compute(frame, "fake", {}), compute)


@pytest.mark.parametrize("name", ["sma", "ema", "rsi", "macd", "supertrend"])
def test_every_indicator_request_is_checked(
    frame: pd.DataFrame, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An implementation that looks ahead on the whole data (say, a wrong fast path) is caught
    # whatever the indicator: the check does not depend on knowing the indicator.
    honest = indicators_module._run_pandas_ta

    def peeking(
        part: pd.DataFrame, name: str, settings: Mapping[str, IndicatorArg]
    ) -> dict[str, FloatArray]:
        columns = honest(part, name, settings)
        return {c: np.r_[v[1:], np.nan] for c, v in columns.items()}

    monkeypatch.setattr(indicators_module, "_run_pandas_ta", peeking)
    with pytest.raises(IndicatorError, match="refused"):
        compute_indicator(frame, name, {})


def test_a_value_on_the_last_bar_alone_needs_no_prefix(frame: pd.DataFrame) -> None:
    # pandas-ta can need every bar given (sma length 5 on 5 bars): nothing earlier to compare.
    short = frame.iloc[:5]
    columns = compute_indicator(short, "sma", {"length": 5})
    assert np.isnan(columns["SMA_5"][:4]).all() and not np.isnan(columns["SMA_5"][4])


@pytest.mark.parametrize(
    ("name", "bars", "expected"),
    [
        ("sma", 3, ["SMA_5"]),
        ("macd", 10, ["MACD_12_26_9", "MACDh_12_26_9", "MACDs_12_26_9"]),
        ("supertrend", 4, ["SUPERT_7_3.0", "SUPERTd_7_3.0", "SUPERTl_7_3.0", "SUPERTs_7_3.0"]),
    ],
)
def test_data_shorter_than_the_warm_up_gives_no_values_yet(
    frame: pd.DataFrame, name: str, bars: int, expected: list[str]
) -> None:
    settings: dict[str, IndicatorArg] = {"length": 5} if name == "sma" else {}
    columns = compute_indicator(frame.iloc[:bars], name, settings)
    assert list(columns) == expected
    assert all(np.isnan(values).all() and len(values) == bars for values in columns.values())
