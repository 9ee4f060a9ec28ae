"""Indicator settings: one allow-list per indicator, plain copies made before any check, and no
way to move future values onto past bars through a setting."""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pandas_ta as ta
import pytest

from app.engine import Bar, IndicatorError, MarketData, RunConfig, Strategy, run_backtest
from app.engine.indicator_rules import (
    ANY_ALLOWED,
    EXCLUDED_SETTINGS,
    KWARG_SETTINGS,
    REFUSED_INDICATORS,
    REQUIRED_SETTINGS,
    SIGNATURE_SETTINGS,
    IndicatorArg,
    SettingRule,
    allowed_settings,
)
from app.engine.indicator_settings import check_settings, plain_settings
from app.engine.indicators import compute_indicator, indicator_names

from .scripted import MarketBuilder

INPUTS = {"open_", "high", "low", "close", "volume", "kwargs"}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 400)))
    index = pd.date_range("2024-01-01", periods=400, freq="h", tz="UTC", name="time")
    return pd.DataFrame(
        {
            "open": np.r_[close[0], close[:-1]],
            "high": close * 1.004,
            "low": close * 0.996,
            "close": close,
            "volume": rng.uniform(1.0, 5.0, 400),
        },
        index=index,
    )


def sma_column(frame: pd.DataFrame, **settings: Any) -> Any:
    return next(iter(compute_indicator(frame, "sma", {"length": 5, **settings}).values()))


# -- the rules are pandas-ta's own settings, each one decided --------------------------------


def test_the_rules_cover_every_pandas_ta_indicator() -> None:
    assert set(SIGNATURE_SETTINGS) == set(indicator_names())


@pytest.mark.parametrize("name", sorted(SIGNATURE_SETTINGS))
def test_every_setting_in_a_signature_is_allowed_or_excluded_with_a_reason(name: str) -> None:
    live = [p for p in inspect.signature(getattr(ta, name)).parameters if p not in INPUTS]
    assert SIGNATURE_SETTINGS[name].split() == live
    if name in REFUSED_INDICATORS:
        return
    allowed = allowed_settings(name)
    undecided = [s for s in live if s not in allowed and s not in EXCLUDED_SETTINGS]
    assert undecided == []
    assert set(KWARG_SETTINGS.get(name, {})) <= set(allowed)


# -- everything off the list is refused, naming indicator, setting and what is allowed -------


@pytest.mark.parametrize(
    ("name", "settings", "words"),
    [
        pytest.param("sma", {"lenght": 5}, ["sma", "'lenght'", "did you mean 'length'"], id="typo"),
        pytest.param("rsi", {"window": 5}, ["rsi", "'window'", "rsi takes: length"], id="unknown"),
        pytest.param(
            "sma", {"append": True}, ["'append'", "writes into the run's data"], id="append"
        ),
        pytest.param("sma", {"fillna": 0.0}, ["'fillna'", "not available"], id="fillna"),
        pytest.param("bbands", {"lookahead": False}, ["'lookahead'", "future"], id="lookahead"),
        pytest.param("cdl_pattern", {"nmae": "doji"}, ["did you mean 'name'"], id="pattern-typo"),
        pytest.param("vwap", {"bands": 1}, ["'bands'", "takes a list"], id="list-setting"),
        pytest.param("sma", {"close": "high"}, ["'close'", "sma takes"], id="source-column"),
        pytest.param("bbands", {"min_periods": 1}, ["'min_periods'"], id="forwarded-kwarg"),
    ],
)
def test_settings_off_the_allow_list_are_refused_with_what_is_allowed(
    frame: pd.DataFrame, name: str, settings: dict[str, Any], words: list[str]
) -> None:
    with pytest.raises(IndicatorError) as refused:
        compute_indicator(frame, name, settings)
    for word in words:
        assert word in str(refused.value)
    assert refused.value.indicator == name
    assert refused.value.setting == next(iter(settings))


@pytest.mark.parametrize(
    ("name", "settings", "words"),
    [
        pytest.param("sma", {"length": 0}, "a whole number from 1 to 100000", id="zero-length"),
        pytest.param("sma", {"length": 10**9}, "from 1 to 100000", id="huge-length"),
        pytest.param("sma", {"length": 2.5}, "a whole number", id="fractional-length"),
        pytest.param("sma", {"length": True}, "not bool", id="bool-for-int"),
        pytest.param("sma", {"length": "5"}, "not str", id="text-for-int"),
        pytest.param("bbands", {"mamode": "dpo"}, "one of 'dema'", id="mamode-not-an-ma"),
        pytest.param("sma", {"talib": 1}, "True or False", id="int-for-flag"),
        pytest.param("ichimoku", {"lookahead": True}, "only False", id="ichimoku-lookahead"),
        pytest.param(
            "cdl_pattern", {"name": "inside"}, "compares the first bar", id="wrapping-pattern"
        ),
        pytest.param("cdl_pattern", {"name": "all"}, "includes 'inside'", id="all-patterns"),
        pytest.param("cdl_pattern", {"name": "bogus"}, "one of '2crows'", id="unknown-pattern"),
        pytest.param("mfi", {"drift": 2}, "from 1 to 1", id="wrapping-drift"),
        pytest.param("supertrend", {"multiplier": -1.0}, "from 0 to", id="negative-multiplier"),
    ],
)
def test_values_outside_a_settings_type_or_range_are_refused(
    frame: pd.DataFrame, name: str, settings: dict[str, Any], words: str
) -> None:
    with pytest.raises(IndicatorError, match="is refused") as refused:
        compute_indicator(frame, name, settings)
    assert words in str(refused.value)


def test_a_whole_float_is_taken_for_a_period_and_an_int_for_a_multiplier(
    frame: pd.DataFrame,
) -> None:
    assert check_settings("sma", {"length": 5.0}) == {"length": 5}
    assert type(check_settings("sma", {"length": 5.0})["length"]) is int
    assert check_settings("supertrend", {"multiplier": 3}) == {"multiplier": 3}
    np.testing.assert_allclose(sma_column(frame), sma_column(frame, talib=False), rtol=1e-12)


# -- shift-like settings: only towards the past ----------------------------------------------

SHIFTS = [
    pytest.param("sma", {"length": 5, "offset": -1}, id="offset"),
    pytest.param("sma", {"length": 5, "offset": -3.0}, id="offset-as-float"),
    pytest.param("rsi", {"drift": -1}, id="rsi-drift"),
    pytest.param("adx", {"drift": -2}, id="adx-drift"),
    pytest.param("vortex", {"drift": -1}, id="vortex-drift"),
    pytest.param("atr", {"drift": 0}, id="zero-drift"),
    pytest.param("alphatrend", {"lag": -2}, id="lag"),
    pytest.param("ichimoku", {"kijun": -5, "include_chikou": False}, id="ichimoku-kijun"),
    pytest.param("dpo", {"centered": True}, id="centered"),
    pytest.param("ichimoku", {"include_chikou": True}, id="chikou"),
    pytest.param("cdl_z", {"full": True}, id="whole-data-fit"),
    pytest.param("pivots", {"anchor": "W"}, id="anchor-without-next-period-shift"),
    pytest.param("pivots", {"anchor": "2D"}, id="multi-day-anchor"),
    pytest.param("vhm", {}, id="whole-series-deviation"),
    pytest.param("zigzag", {}, id="repainting-pivots"),
]


@pytest.mark.parametrize(("name", "settings"), SHIFTS)
def test_cant_look_ahead_through_shift_like_settings(
    frame: pd.DataFrame, name: str, settings: dict[str, Any]
) -> None:
    with pytest.raises(IndicatorError, match="refused"):
        compute_indicator(frame, name, settings)


@pytest.mark.parametrize("drift", [-1, -7, 0, -(10**6)])
@pytest.mark.parametrize("name", ["rsi", "cmo", "true_range", "increasing", "kama"])
def test_cant_look_ahead_through_drift(frame: pd.DataFrame, name: str, drift: int) -> None:
    with pytest.raises(IndicatorError, match="drift") as refused:
        compute_indicator(frame, name, {"drift": drift})
    assert "a whole number from 1" in str(refused.value)


def test_positive_shifts_stay_allowed(frame: pd.DataFrame) -> None:
    lagged = sma_column(frame, offset=2)
    np.testing.assert_array_equal(lagged[2:], sma_column(frame)[:-2])
    assert compute_indicator(frame, "rsi", {"drift": 2})
    assert compute_indicator(frame, "dpo", {"centered": False})
    assert compute_indicator(frame, "ichimoku", {"lookahead": False})
    assert compute_indicator(frame, "ichimoku", {"include_chikou": False})


@pytest.mark.parametrize(
    ("name", "fix"),
    [
        ("dpo", "pass centered=False"),
        ("ichimoku", "pass include_chikou=False or lookahead=False"),
        ("cdl_pattern", "e.g. name='doji'; pass name=<one of '2crows'"),
    ],
)
def test_indicators_whose_default_looks_ahead_say_what_to_pass(
    frame: pd.DataFrame, name: str, fix: str
) -> None:
    with pytest.raises(IndicatorError, match="refused") as refused:
        compute_indicator(frame, name, {})
    assert fix in str(refused.value)


# -- settings are copied once into plain values before any check -----------------------------


class ChangingMapping(Mapping[str, object]):
    """Answers offset=0 on the first read of anything, offset=-5 on every later one."""

    def __init__(self) -> None:
        self.reads = 0

    def _offset(self) -> int:
        self.reads += 1
        return 0 if self.reads == 1 else -5

    def __getitem__(self, key: str) -> object:
        return {"length": 5, "offset": self._offset()}[key]

    def __iter__(self) -> Iterator[str]:
        return iter(["length", "offset"])

    def __len__(self) -> int:
        return 2

    def items(self) -> Any:
        offset = self._offset()
        return [("length", 5), ("offset", offset)]


def test_cant_look_ahead_through_a_changing_mapping(frame: pd.DataFrame) -> None:
    changing = ChangingMapping()
    columns = compute_indicator(frame, "sma", changing)
    assert changing.reads == 1  # one read: what was checked is what was computed
    np.testing.assert_array_equal(next(iter(columns.values())), sma_column(frame, offset=0))


def test_cant_look_ahead_through_a_mapping_that_changes_after_the_first_read() -> None:
    class Flipping(ChangingMapping):
        def items(self) -> Any:
            self.reads += 1
            return [("length", 5), ("offset", -5 if self.reads == 1 else 0)]

    with pytest.raises(IndicatorError, match="offset"):
        compute_indicator(pd.DataFrame(), "sma", Flipping())


def test_cant_look_ahead_through_a_mapping_whose_keys_repeat() -> None:
    class Repeating(ChangingMapping):
        def items(self) -> Any:
            return [("offset", 0), ("offset", -5)]

    with pytest.raises(IndicatorError, match="given twice"):
        compute_indicator(pd.DataFrame(), "sma", Repeating())


def test_cant_look_ahead_through_an_endless_mapping() -> None:
    class Endless(ChangingMapping):
        def items(self) -> Any:
            def forever() -> Iterator[tuple[str, int]]:
                count = 0
                while True:
                    count += 1
                    yield f"s{count}", 0

            return forever()

    with pytest.raises(IndicatorError, match="more than 32"):
        compute_indicator(pd.DataFrame(), "sma", Endless())


class NeverNegative(int):
    """An int that says it is not below anything, and equals whatever it is compared with."""

    def __lt__(self, other: object) -> bool:
        return False

    def __le__(self, other: object) -> bool:
        return False

    def __ge__(self, other: object) -> bool:
        return True

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = int.__hash__


class ShapeShifter(str):
    """A str whose comparisons and lower() answer what a check wants to hear."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__

    def lower(self) -> str:
        return "sma"


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        pytest.param("sma", {"length": 5, "offset": NeverNegative(-5)}, id="int-subclass-value"),
        pytest.param("sma", {"length": 5, ShapeShifter("offset"): -5}, id="str-subclass-key"),
        pytest.param("vwap", {"anchor": ShapeShifter("W")}, id="str-subclass-value"),
        pytest.param(ShapeShifter("zigzag"), {}, id="str-subclass-name"),
        pytest.param("sma", {"length": 5, "offset": np.float64("nan")}, id="nan-offset"),
        pytest.param("sma", {"length": 5, "offset": float("-inf")}, id="infinite-offset"),
        pytest.param("sma", {"length": 5, "offset": [-5]}, id="list-value"),
    ],
)
def test_cant_look_ahead_through_a_str_subclass(
    frame: pd.DataFrame, name: Any, settings: dict[Any, Any]
) -> None:
    # Subclasses of the plain types (and NaN, which compares false) never reach a check.
    with pytest.raises(IndicatorError):
        compute_indicator(frame, name, settings)


def test_exact_numpy_numbers_are_copied_into_builtins() -> None:
    copied = plain_settings("supertrend", {"length": np.int64(7), "multiplier": np.float64(2.5)})
    assert copied == {"length": 7, "multiplier": 2.5}
    assert [type(v) for v in copied.values()] == [int, float]


def test_cant_look_ahead_through_hostile_settings_inside_a_run(
    make_market: MarketBuilder,
) -> None:
    closes = 100 + np.sin(np.arange(200) / 5)
    market: MarketData = make_market([(c, c + 1, c - 1, c) for c in closes])
    seen: list[str] = []

    class Sneaky(Strategy):
        def initialize(self) -> None:
            for settings in (
                {"length": 5, "offset": NeverNegative(-5)},
                {"length": 5, "drift": -1},
                ChangingMapping(),
            ):
                try:
                    self.indicator("sma", **settings)
                    seen.append("computed")
                except IndicatorError as error:
                    seen.append(str(error))

        def on_data(self, bar: Bar) -> None:
            pass

    run_backtest(Sneaky, market, RunConfig())
    assert "must be a number, True/False or text, not NeverNegative" in seen[0]
    assert "unknown setting 'drift'" in seen[1]
    # `**mapping` is read by Python itself into a plain dict (here with offset=-5): refused.
    assert seen[2].startswith("sma: offset=-5 is refused")


# -- every allowed value is accepted by pandas-ta and passes the look-ahead check ------------


def sample_value(rule: SettingRule) -> IndicatorArg:
    """A typical allowed value: the first choice, True, or a small in-range number."""
    if rule.choices:
        return rule.choices[-1]
    if rule.kind is bool:
        return True
    low = 0.0 if rule.minimum is None else rule.minimum
    high = 1.0 if rule.maximum is None else rule.maximum
    typical = min(max(3.0, low), high) if high - low >= 3 else (low + high) / 2
    return int(typical) if rule.kind is int else float(typical)


ALLOWED = [
    pytest.param(name, setting, sample_value(rule), id=f"{name}-{setting}")
    for name in sorted(SIGNATURE_SETTINGS)
    if name not in REFUSED_INDICATORS
    for setting, rule in allowed_settings(name).items()
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "setting", "value"), ALLOWED)
def test_an_allowed_setting_is_read_by_pandas_ta_and_never_looks_ahead(
    frame: pd.DataFrame, name: str, setting: str, value: IndicatorArg
) -> None:
    settings: dict[str, IndicatorArg] = {
        key: value if value is not ANY_ALLOWED else sample_value(allowed_settings(name)[key])
        for key, value in REQUIRED_SETTINGS.get(name, ((), ""))[0][:1]
    }
    settings[setting] = value
    try:
        compute_indicator(frame, name, settings)
    except IndicatorError as error:
        # pandas-ta's own failures for some combinations are errors, never look-ahead or an
        # unexpected keyword (which would mean the allow-list names a setting it never reads)
        assert "looks ahead" not in str(error)
        assert "unexpected keyword" not in str(error)
