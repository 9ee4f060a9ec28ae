"""The fast indicators equal pandas-ta's own output (same columns, same NaN positions, values
within 1e-9 relative) on awkward series and edge settings; what they don't cover falls back."""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
import pytest
from pandas_ta.core import AnalysisIndicators

from app.engine.errors import IndicatorError
from app.engine.fast_indicators import compute_fast, fast_indicator_names
from app.engine.fast_indicators.primitives import (
    ewm_mean,
    grouped_cumsum,
    numpy_sum,
    rolling_sum,
)
from app.engine.fast_indicators.schaff import round8
from app.engine.feed import FloatArray
from app.engine.indicators import compute_indicator

Settings = dict[str, bool | int | float | str]
Columns = dict[str, FloatArray]
BARS = 400


def _frame(close: FloatArray, volume: FloatArray, seed: int, freq: str = "7min") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    opens = np.concatenate(([close[0]], close[:-1]))
    spread = np.abs(rng.normal(0.0, 0.001, close.size))
    highs = np.maximum(opens, close) * (1 + spread)
    lows = np.minimum(opens, close) * (1 - spread)
    index = pd.date_range("2024-03-01 20:00", periods=close.size, freq=freq, tz="UTC")
    return pd.DataFrame(
        {"open": opens, "high": highs, "low": lows, "close": close, "volume": volume},
        index=index,
    )


def random_walk(
    n: int = BARS, seed: int = 1, scale: float = 100.0, freq: str = "7min"
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = scale * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    return _frame(close, rng.uniform(1.0, 100.0, n), seed, freq)


def with_flat_gaps(n: int = BARS) -> pd.DataFrame:
    """Stretches where open = high = low = close (zero ranges, zero changes)."""
    frame = random_walk(n, seed=2)
    for start in (30, 150, 151, 300):
        frame.iloc[start : start + 25, :4] = frame["close"].iloc[start]
    return frame


def with_zero_volume(n: int = BARS) -> pd.DataFrame:
    """Whole sessions without volume (vwap's 0 / 0) and single empty bars."""
    frame = random_walk(n, seed=3)
    frame.iloc[:60, 4] = 0.0
    frame.iloc[200:260, 4] = 0.0
    frame.iloc[::17, 4] = 0.0
    return frame


SERIES: Mapping[str, Callable[[], pd.DataFrame]] = {
    "random walk": random_walk,
    "flat gaps": with_flat_gaps,
    "zero volume": with_zero_volume,
    "tiny prices": lambda: random_walk(seed=4, scale=1e-6),
    "huge prices": lambda: random_walk(seed=5, scale=1e9),
    "few bars": lambda: random_walk(n=9, seed=6),
    "daily bars": lambda: random_walk(seed=7, freq="D"),  # one bar per vwap/pivots period
}

# (indicator, settings): defaults, the smallest lengths, a length longer than the data,
# offsets and every mode flag the fast path reproduces.
CASES: list[tuple[str, Settings]] = [
    ("supertrend", {}),
    ("supertrend", {"length": 1}),
    ("supertrend", {"length": 2, "multiplier": 1}),
    ("supertrend", {"length": 10, "atr_length": 3, "multiplier": 0.5, "offset": 2}),
    ("supertrend", {"atr_mamode": "RMA"}),
    ("supertrend", {"length": 5_000}),
    ("supertrend", {"offset": 5_000}),  # shifted past the end: all NaN
    ("vwap", {}),
    ("vwap", {"anchor": "W"}),
    ("vwap", {"anchor": "m", "offset": 3}),
    ("vwap", {"offset": 5_000}),
    ("pivots", {}),
    ("pivots", {"method": "fibonacci"}),
    ("pivots", {"method": "demark", "anchor": "D"}),
    ("pivots", {"method": "woodie"}),
    ("pivots", {"method": "camarilla"}),
    ("pivots", {"method": "classic", "anchor": "W"}),
    ("adx", {}),
    ("adx", {"length": 1}),
    ("adx", {"length": 2, "signal_length": 5, "adxr_length": 1}),
    ("adx", {"scalar": 50, "drift": 3, "offset": 1, "mamode": "rma", "tvmode": False}),
    ("adx", {"length": 5_000}),
    ("alligator", {}),
    ("alligator", {"jaw": 2, "teeth": 3, "lips": 21, "offset": 1}),
    ("alligator", {"jaw": 1}),
    ("aroon", {}),
    ("aroon", {"length": 1}),
    ("aroon", {"length": 2, "scalar": 1}),
    ("aroon", {"length": 5_000}),
    ("cci", {}),
    ("cci", {"length": 1}),
    ("cci", {"length": 2, "c": 0.03}),
    ("cci", {"length": 50, "offset": 4}),
    ("cfo", {}),
    ("cfo", {"length": 1}),
    ("cfo", {"length": 2, "scalar": 1.5, "drift": 2}),
    ("kama", {}),
    ("kama", {"length": 2, "fast": 1, "slow": 2}),
    ("kama", {"length": 1}),
    ("kama", {"length": 20, "drift": 3, "offset": 5}),
    ("linreg", {}),
    ("linreg", {"length": 1}),
    ("linreg", {"length": 2}),
    ("linreg", {"slope": True}),
    ("linreg", {"intercept": True, "length": 30}),
    ("linreg", {"angle": True}),
    ("linreg", {"angle": True, "degrees": True}),
    ("linreg", {"r": True}),
    ("linreg", {"r": True, "length": 2}),
    ("linreg", {"tsf": True, "offset": 2}),
    ("linreg", {"slope": True, "r": True, "angle": False}),
    ("smma", {}),
    ("smma", {"length": 1}),
    ("smma", {"length": 2, "offset": 1}),
    ("smma", {"length": 5_000}),
    ("mad", {}),
    ("mad", {"length": 1}),
    ("mad", {"length": 2, "offset": 1}),
    ("sinwma", {}),
    ("sinwma", {"length": 1}),
    ("sinwma", {"length": 2}),
    ("sinwma", {"length": 60, "offset": 2}),
    ("hilo", {}),
    ("hilo", {"high_length": 1, "low_length": 1}),
    ("hilo", {"high_length": 2, "low_length": 3, "mamode": "ema", "offset": 2}),
    ("hilo", {"mamode": "wma"}),
    ("hilo", {"mamode": "no such average"}),  # pandas-ta's ma() falls back to ema
    ("qqe", {}),
    ("qqe", {"length": 1}),
    ("qqe", {"length": 2, "smooth": 1}),
    ("qqe", {"mamode": "sma", "factor": 3, "offset": 2}),
    ("qqe", {"mamode": "EMA", "drift": 2}),
    ("qqe", {"length": 5_000}),
    ("vidya", {}),
    ("vidya", {"length": 1}),
    ("vidya", {"length": 2, "drift": 2}),
    ("vidya", {"offset": 3}),
    ("ebsw", {}),
    ("ebsw", {"length": 1}),
    ("ebsw", {"length": 2, "bars": 3}),
    ("ebsw", {"bars": 2.5, "offset": 1}),
    ("ebsw", {"initial_version": False}),
    ("hwma", {}),
    ("hwma", {"na": 0.5, "nb": 0.3, "nc": 0.9}),
    ("hwma", {"na": 1, "nb": 2.0, "offset": 2}),  # not floats in (0, 1): the defaults
    ("hwc", {}),
    ("hwc", {"scalar": 2.0, "channels": False}),
    ("hwc", {"na": 1, "nb": 0.5, "nd": 2, "offset": 1}),
    ("jma", {}),
    ("jma", {"length": 1}),
    ("jma", {"length": 2, "phase": 50}),
    ("jma", {"phase": -200}),
    ("jma", {"length": 20, "phase": 150, "offset": 1}),
    ("jma", {"length": 5_000}),
    ("cti", {}),
    ("cti", {"length": 1}),
    ("cti", {"length": 2, "offset": 1}),
    ("inertia", {}),
    ("inertia", {"length": 1}),
    ("inertia", {"length": 2, "rvi_length": 3}),
    ("inertia", {"refined": True}),
    ("inertia", {"thirds": True, "mamode": "sma", "scalar": 50, "offset": 2}),
    ("fisher", {}),
    ("fisher", {"length": 1}),
    ("fisher", {"length": 2, "signal": 3}),
    ("fisher", {"signal": 20, "offset": 1}),
    ("rsx", {}),
    ("rsx", {"length": 1}),
    ("rsx", {"length": 2, "drift": 2}),
    ("rsx", {"length": 7, "offset": 3}),
    ("cg", {}),
    ("cg", {"length": 1}),
    ("cg", {"length": 2, "offset": 1}),
    ("fwma", {}),
    ("fwma", {"length": 1}),
    ("fwma", {"length": 2, "asc": False, "offset": 1}),
    ("pwma", {}),
    ("pwma", {"length": 1}),
    ("pwma", {"length": 30}),
    ("swma", {}),
    ("swma", {"length": 1}),
    ("swma", {"length": 2}),
    ("swma", {"length": 11, "offset": 2}),
    ("rvgi", {}),
    ("rvgi", {"length": 1}),
    ("rvgi", {"length": 2, "swma_length": 1}),
    ("rvgi", {"swma_length": 7, "offset": 2}),
    ("mcgd", {}),
    ("mcgd", {"length": 1}),
    ("mcgd", {"length": 2, "c": 0.5}),
    ("mcgd", {"c": 2.0, "offset": 1}),  # outside (0, 1]: pandas-ta's 1
    ("psar", {}),
    ("psar", {"af": 0.01}),
    ("psar", {"af0": 0.05, "max_af": 0.3, "tv": True}),
    ("psar", {"af0": 1, "max_af": 1, "offset": 2}),
    ("stc", {}),
    ("stc", {"tc_length": 1}),
    ("stc", {"tc_length": 2, "fast": 2, "slow": 3}),
    ("stc", {"fast": 30, "slow": 5}),  # swapped, as pandas-ta does
    ("stc", {"factor": 1, "offset": 2}),
    ("stc", {"tc_length": 5_000}),
    ("dm", {}),
    ("dm", {"length": 1}),
    ("dm", {"length": 2, "drift": 2, "mamode": "sma"}),
    ("dm", {"mamode": "ema", "offset": 3}),
]


def pandas_ta_output(frame: pd.DataFrame, name: str, settings: Settings) -> Columns | str:
    """pandas-ta's own columns, or why it gives none (an error, or no series)."""
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        try:
            result = getattr(frame.ta, name)(**settings)
        except Exception as error:
            return f"raises {type(error).__name__}"
    if isinstance(result, pd.Series):
        result = result.to_frame(name=str(result.name))
    if not isinstance(result, pd.DataFrame) or result is frame:
        return "no series"
    return {
        str(c): pd.to_numeric(result[c], errors="coerce").to_numpy(dtype=np.float64)
        for c in result.columns
    }


def assert_same_columns(ours: Columns, theirs: Columns) -> None:
    assert list(ours) == list(theirs)
    for column, expected in theirs.items():
        got = ours[column]
        assert got.dtype == np.float64 and got.shape == expected.shape, column
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=column)
        known = ~np.isnan(expected)
        np.testing.assert_allclose(got[known], expected[known], rtol=1e-9, atol=0, err_msg=column)


@pytest.mark.parametrize("series", list(SERIES))
@pytest.mark.parametrize(("name", "settings"), CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_fast_indicator_equals_pandas_ta_or_falls_back(
    name: str, settings: Settings, series: str
) -> None:
    frame = SERIES[series]()
    theirs = pandas_ta_output(frame, name, settings)
    ours = compute_fast(frame, name, settings)
    if isinstance(theirs, str):  # pandas-ta fails here: the engine must get pandas-ta's error
        assert ours is None, f"pandas-ta {theirs}, the fast path answered"
        return
    assert ours is not None, "the fast path should cover this request"
    assert_same_columns(ours, theirs)


# cdl_pattern's reference is pandas-ta's TA-Lib branch: tests/engine/test_candle_patterns.py
@pytest.mark.parametrize("name", sorted(fast_indicator_names() - {"cdl_pattern"}))
def test_every_fast_indicator_takes_the_fast_path_with_its_defaults(name: str) -> None:
    frame = random_walk()
    ours = compute_fast(frame, name, {})
    assert ours is not None
    theirs = pandas_ta_output(frame, name, {})
    assert not isinstance(theirs, str)
    assert_same_columns(ours, theirs)


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("supertrend", {"fillna": 0}),  # a setting the fast path does not reproduce
        ("supertrend", {"atr_mamode": "ema"}),
        ("supertrend", {"length": 0}),  # pandas-ta silently uses its default
        ("supertrend", {"multiplier": True}),
        ("vwap", {"anchor": "h"}),  # pandas-ta upper-cases it to "H", which pandas refuses
        ("adx", {"tvmode": True}),
        ("adx", {"talib": False}),
        ("linreg", {"angle": 1}),  # pandas-ta reads any truthy value, not only bools
        ("kama", {"length": 2.5}),
        ("cci", {"offset": True}),
        ("smma", {"mamode": "ema"}),
        ("ebsw", {"initial_version": True}),
        ("jma", {"length": 7.0}),
        ("mad", {"min_periods": 3}),
        ("qqe", {"mamode": ""}),
        ("psar", {"close": "close"}),  # a source column: pandas-ta then starts at the close
        ("fisher", {"length": -3}),
        ("stc", {"tclength": 5}),  # the accessor's own spelling, which pandas-ta ignores
    ],
)
def test_settings_the_fast_path_does_not_reproduce_go_to_pandas_ta(
    name: str, settings: Settings
) -> None:
    frame = random_walk()
    assert compute_fast(frame, name, settings) is None


def test_non_finite_bars_go_to_pandas_ta() -> None:
    frame = random_walk()
    frame.iloc[50, 3] = np.nan
    assert compute_fast(frame, "supertrend", {}) is None
    assert compute_fast(random_walk().astype("float32"), "supertrend", {}) is None


def test_indicators_without_a_fast_version_are_not_claimed() -> None:
    assert compute_fast(random_walk(), "rsi", {}) is None
    assert "rsi" not in fast_indicator_names()


def test_the_engine_computes_supertrend_without_calling_pandas_ta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pandas-ta's supertrend was called")

    frame = random_walk(n=9_000)
    expected = pandas_ta_output(frame, "supertrend", {"length": 10})
    monkeypatch.setattr(AnalysisIndicators, "supertrend", refuse)
    columns = compute_indicator(frame, "supertrend", {"length": 10})  # with its prefix check
    assert not isinstance(expected, str)
    assert_same_columns(columns, expected)
    assert all(not values.flags.writeable for values in columns.values())


def test_the_engine_still_asks_pandas_ta_for_settings_outside_the_fast_path() -> None:
    frame = random_walk()
    columns = compute_indicator(frame, "adx", {"tvmode": True})
    expected = pandas_ta_output(frame, "adx", {"tvmode": True})
    assert not isinstance(expected, str)
    assert_same_columns(columns, expected)


def test_look_ahead_is_refused_before_the_fast_path() -> None:
    with pytest.raises(IndicatorError, match="refused"):
        compute_indicator(random_walk(), "supertrend", {"offset": -1})


def test_pandas_ta_errors_reach_the_user_for_settings_it_cannot_compute() -> None:
    with pytest.raises(IndicatorError, match="smma could not be computed"):
        compute_indicator(random_walk(), "smma", {"length": 1})


# The kernels under the indicators reproduce pandas' and numpy's arithmetic bit for bit.
PRIMITIVE_DATA = {
    "walk": 3e4 * np.exp(np.cumsum(np.random.default_rng(7).normal(0, 1e-3, 3_000))),
    "signed": np.random.default_rng(8).normal(0.0, 1.0, 3_000),
    "constant runs": np.r_[np.full(50, 3.0), np.random.default_rng(9).normal(0, 1e-9, 500)],
    "leading NaN": np.r_[np.full(5, np.nan), np.random.default_rng(10).normal(5, 1, 500)],
}


@pytest.mark.parametrize("data", list(PRIMITIVE_DATA))
@pytest.mark.parametrize("alpha", [1 / 14, 2 / 11, 0.5, 1.0])
@pytest.mark.parametrize("adjust", [False, True])
def test_ewm_mean_is_pandas_ewm_bit_for_bit(data: str, alpha: float, adjust: bool) -> None:
    values = PRIMITIVE_DATA[data]
    expected = pd.Series(values).ewm(alpha=alpha, adjust=adjust).mean().to_numpy()
    np.testing.assert_array_equal(ewm_mean(values, alpha, adjust), expected)


@pytest.mark.parametrize("data", list(PRIMITIVE_DATA))
@pytest.mark.parametrize(("window", "min_periods"), [(1, 1), (2, 2), (14, 14), (30, 1)])
def test_rolling_sum_is_pandas_rolling_sum_bit_for_bit(
    data: str, window: int, min_periods: int
) -> None:
    values = PRIMITIVE_DATA[data]
    expected = pd.Series(values).rolling(window, min_periods=min_periods).sum().to_numpy()
    np.testing.assert_array_equal(rolling_sum(values, window, min_periods), expected)


@pytest.mark.parametrize("data", list(PRIMITIVE_DATA))
def test_grouped_cumsum_is_pandas_groupby_cumsum_bit_for_bit(data: str) -> None:
    values = PRIMITIVE_DATA[data]
    starts = np.zeros(values.size, dtype=np.bool_)
    starts[::97] = True
    starts[5] = True
    expected = pd.Series(values).groupby(np.cumsum(starts)).cumsum().to_numpy()
    np.testing.assert_array_equal(grouped_cumsum(values, starts), expected)


@pytest.mark.parametrize("size", [0, 1, 7, 8, 9, 127, 128, 129, 255, 256, 257, 1_000, 8_192])
def test_numpy_sum_is_numpys_pairwise_sum_bit_for_bit(size: int) -> None:
    values = np.ascontiguousarray(PRIMITIVE_DATA["signed"][:size] * 1.37)
    assert numpy_sum(values) == values.sum()


def test_round8_is_numpys_round_of_a_float64() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate(
        (rng.uniform(-100, 100, 20_000), np.arange(-400, 400) * 0.5e-8, [0.0, 2.5e-8, 1e300])
    )
    assert all(round8(v) == round(np.float64(v), 8) for v in values)
