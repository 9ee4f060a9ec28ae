"""Candle patterns work through TA-Lib while every other indicator keeps pandas-ta's own numbers
(pandas-ta would route 86 of them through TA-Lib as soon as it is importable)."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_ta.maps
import pytest
from pandas_ta.candle.cdl_pattern import ALL_PATTERNS

from app.engine.errors import IndicatorError
from app.engine.fast_indicators import compute_fast
from app.engine.feed import FloatArray
from app.engine.indicator_rules import (
    CAUSAL_CANDLE_PATTERNS,
    LOOK_AHEAD_CANDLE_PATTERNS,
    allowed_settings,
)
from app.engine.indicators import (
    ALWAYS_LOOK_AHEAD,
    _run_pandas_ta,
    compute_indicator,
    indicator_names,
)
from app.engine.repaint import check_prefix_stable

ROOT = Path(__file__).resolve().parents[2]
Settings = dict[str, bool | int | float | str]

# The same bars in this process and in the one without TA-Lib.
BARS_SOURCE = """
import numpy as np, pandas as pd
rng = np.random.default_rng(13)
close = 100 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 700)))
opens = np.concatenate(([close[0]], close[:-1]))
spread = np.abs(rng.normal(0.0, 0.004, close.size))
frame = pd.DataFrame(
    {"open": opens, "high": np.maximum(opens, close) * (1 + spread),
     "low": np.minimum(opens, close) * (1 - spread), "close": close,
     "volume": rng.uniform(1.0, 100.0, close.size)},
    index=pd.date_range("2024-01-01", periods=close.size, freq="h", tz="UTC"),
)
frame.iloc[100:110, :4] = frame["close"].iloc[100]  # doji-like flat bars
"""

WITHOUT_TALIB_SOURCE = f"""
import sys, contextlib, io, warnings
sys.modules["talib"] = None  # importlib's find_spec now says TA-Lib is absent
import numpy as np, pandas as pd, pandas_ta
assert pandas_ta.Imports["talib"] is False
{BARS_SOURCE}
names = [line for line in sys.stdin.read().split() if line]
out = {{}}
for name in names:
    with warnings.catch_warnings(), np.errstate(all="ignore"), \\
            contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            result = getattr(frame.ta, name)()
        except Exception:
            continue
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, pd.Series):
        result = result.to_frame(name=str(result.name))
    if not isinstance(result, pd.DataFrame) or result is frame:
        continue
    for column in result.columns:
        values = pd.to_numeric(result[column], errors="coerce").to_numpy(dtype=np.float64)
        out[name + "|" + str(column)] = values
np.savez(sys.argv[1], **out)
"""


def bars() -> pd.DataFrame:
    namespace: dict[str, object] = {}
    exec(BARS_SOURCE, namespace)  # trusted test source, shared with the subprocess
    frame = namespace["frame"]
    assert isinstance(frame, pd.DataFrame)
    return frame


def pandas_ta_columns(frame: pd.DataFrame, name: str, settings: Settings) -> dict[str, FloatArray]:
    with (
        warnings.catch_warnings(),
        np.errstate(all="ignore"),
        contextlib.redirect_stdout(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        result = getattr(frame.ta, name)(**settings)
    if isinstance(result, tuple):
        result = result[0]
    if isinstance(result, pd.Series):
        result = result.to_frame(name=str(result.name))
    assert isinstance(result, pd.DataFrame) and result is not frame, f"{name}: no output"
    return {
        str(c): pd.to_numeric(result[c], errors="coerce").to_numpy(dtype=np.float64)
        for c in result.columns
    }


def test_the_engine_keeps_pandas_ta_on_its_own_code_with_talib_installed() -> None:
    import talib  # noqa: F401 - the dependency is installed

    assert pandas_ta.maps.Imports["talib"] is False


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"name": "doji"},
        {"name": "inside"},
        {"name": "engulfing"},
        {"name": "morningstar"},
        {"name": "hammer", "scalar": 1.0},
        {"name": "all", "offset": 2},
    ],
)
def test_cdl_pattern_equals_pandas_ta_with_talib(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = bars()
    ours = compute_fast(frame, "cdl_pattern", settings)
    monkeypatch.setitem(pandas_ta.maps.Imports, "talib", True)  # pandas-ta's TA-Lib branch
    theirs = pandas_ta_columns(frame, "cdl_pattern", settings)
    assert ours is not None
    assert list(ours) == list(theirs)
    for column, expected in theirs.items():
        np.testing.assert_array_equal(ours[column], expected, err_msg=column)


def test_all_62_candle_patterns_are_columns_and_some_are_found() -> None:
    columns = compute_fast(bars(), "cdl_pattern", {})
    assert columns is not None and len(columns) == 62
    assert "CDL_ENGULFING" in columns and "CDL_DOJI_10_0.1" in columns
    found = {name for name, values in columns.items() if np.any(values != 0)}
    assert {"CDL_ENGULFING", "CDL_HARAMI", "CDL_HAMMER", "CDL_DOJI_10_0.1"} <= found
    # TA-Lib's strengths: 100 found, 80 a weaker engulfing/harami form, 200 a confirmed hikkake
    strengths = {-200.0, -100.0, -80.0, 0.0, 80.0, 100.0, 200.0}
    assert all(set(np.unique(v)) <= strengths for v in columns.values())


def test_the_engine_computes_an_allowed_pattern_through_the_fast_path() -> None:
    frame = bars()
    assert compute_indicator(frame, "cdl_pattern", {"name": "doji"}).keys() == (
        pandas_ta_columns(frame, "cdl_pattern", {"name": "doji"}).keys()
    )


def test_an_unknown_pattern_is_left_to_pandas_ta() -> None:
    assert compute_fast(bars(), "cdl_pattern", {"name": "3blackbirds"}) is None
    assert compute_fast(bars(), "cdl_pattern", {"penetration": 0.5}) is None


@pytest.mark.slow
def test_no_other_indicator_changes_when_talib_is_installed(tmp_path: Path) -> None:
    """Every non-pattern indicator with its defaults, here (TA-Lib installed, the engine
    loaded) and in a process where TA-Lib cannot be imported: the same bits."""
    names = [n for n in indicator_names() if n not in ALWAYS_LOOK_AHEAD and not n.startswith("cdl")]
    saved = tmp_path / "without_talib.npz"
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_TALIB_SOURCE, str(saved)],
        input="\n".join(names),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    without = dict(np.load(saved))
    assert len({key.split("|")[0] for key in without}) > 120  # nearly all indicators ran
    frame = bars()
    for name in sorted({key.split("|")[0] for key in without}):
        here = pandas_ta_columns(frame, name, {})
        expected = {k.split("|", 1)[1]: v for k, v in without.items() if k.split("|")[0] == name}
        assert list(here) == list(expected), name
        for column, values in expected.items():
            np.testing.assert_array_equal(here[column], values, err_msg=f"{name} {column}")


# -- which pattern names a strategy may use ----------------------------------------------------


def shaped_bars(seed: int, bars: int = 6_000) -> pd.DataFrame:
    """Candles drawn from discrete shapes (bodies none/short/long, shadows none/short/long,
    opens gapping or not), so that rare multi-bar patterns appear in random data."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], (3, bars))
    body = rng.choice([0.0, 0.0005, 0.003, 0.012], bars, p=[0.1, 0.15, 0.35, 0.4]) * sign[0]
    gap = rng.choice([0.0, 0.004, 0.01], bars, p=[0.6, 0.25, 0.15]) * sign[1]
    upper, lower = rng.choice([0.0, 0.001, 0.008], (2, bars), p=[0.5, 0.3, 0.2])
    growth = (1 + gap) * (1 + body)
    close = 100 * np.cumprod(growth)
    opens = close / (1 + body)
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * (1 + upper),
            "low": np.minimum(opens, close) * (1 - lower),
            "close": close,
            "volume": rng.uniform(1.0, 100.0, bars),
        },
        index=pd.date_range("2024-01-01", periods=bars, freq="min", tz="UTC"),
    )


def gapping_bars(seed: int, bars: int = 6_000) -> pd.DataFrame:
    """A random walk whose opens gap a third of the time and whose bodies are sometimes nearly
    flat (counterattack lines and doji stars need both)."""
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0, 0.01, bars)))
    gap = rng.normal(0.0, 0.006, bars) * (rng.random(bars) < 0.3)
    opens = np.concatenate(([close[0]], close[:-1])) * (1 + gap)
    flat = rng.random(bars) < 0.08
    opens[flat] = close[flat] * (1 + rng.normal(0.0, 0.0002, int(flat.sum())))
    upper, lower = np.abs(rng.normal(0.0, 0.006, (2, bars))) * (rng.random((2, bars)) < 0.7)
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * (1 + upper),
            "low": np.minimum(opens, close) * (1 - lower),
            "close": close,
            "volume": rng.uniform(1.0, 100.0, bars),
        },
        index=pd.date_range("2024-01-01", periods=bars, freq="min", tz="UTC"),
    )


def test_the_allowed_patterns_are_pandas_tas_all_but_those_that_look_ahead() -> None:
    assert set(CAUSAL_CANDLE_PATTERNS) == set(ALL_PATTERNS) - set(LOOK_AHEAD_CANDLE_PATTERNS)
    assert set(LOOK_AHEAD_CANDLE_PATTERNS) == {"inside", "all"}
    assert len(CAUSAL_CANDLE_PATTERNS) == 61
    assert allowed_settings("cdl_pattern")["name"].choices == CAUSAL_CANDLE_PATTERNS


FRAMES = [bars(), shaped_bars(1), shaped_bars(2), gapping_bars(1), gapping_bars(2)]


@pytest.mark.parametrize("pattern", CAUSAL_CANDLE_PATTERNS)
def test_every_allowed_pattern_computes_and_passes_the_repaint_check(pattern: str) -> None:
    for frame in FRAMES:
        columns = compute_indicator(frame, "cdl_pattern", {"name": pattern})  # checks cuts
        assert list(columns) == [f"CDL_{pattern.upper()}"] or pattern == "doji"
        # and the check again on every 97th prefix, not only the fixed cuts
        for cut in range(97, len(frame), 97 * 7):
            prefix = compute_indicator(frame.iloc[:cut], "cdl_pattern", {"name": pattern})
            for column, values in columns.items():
                np.testing.assert_array_equal(prefix[column], values[:cut], err_msg=column)


def test_the_repaint_data_finds_nearly_every_pattern() -> None:
    """The check above compares something: all but three of the 61 patterns are found in
    its bars (three-stars-in-the-south, concealing baby swallow and mat hold need shapes random
    candles do not make)."""
    never = {
        pattern
        for pattern in CAUSAL_CANDLE_PATTERNS
        if not any(
            np.any(values != 0)
            for frame in FRAMES
            for values in compute_indicator(frame, "cdl_pattern", {"name": pattern}).values()
        )
    }
    assert never <= {"3starsinsouth", "concealbabyswall", "mathold"}


def test_the_repaint_check_catches_the_inside_pattern_when_the_rules_are_bypassed() -> None:
    frame = shaped_bars(3)
    last = frame.index[-1]
    frame.loc[last, "high"] = 1e9  # bar 0 is inside the last bar
    frame.loc[last, "low"] = 1e-9
    settings: Settings = {"name": "inside"}
    whole = _run_pandas_ta(frame, "cdl_pattern", settings)
    with pytest.raises(IndicatorError, match="at bar 0 changes"):
        check_prefix_stable(frame, "cdl_pattern", settings, whole, _run_pandas_ta)


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        ({"name": "inside"}, "inside bar compares the first bar with the last one"),
        ({"name": "all"}, "'all' includes 'inside'"),
        ({"name": "all", "offset": 3}, "'all' includes 'inside'"),
        ({}, "name one pattern, e.g. name='doji'"),
        ({"scalar": 1.0}, "name one pattern"),
        ({"name": "Doji"}, "takes one of '2crows'"),
        ({"name": 1}, "not int"),
    ],
)
def test_patterns_that_look_ahead_or_no_pattern_are_refused_with_the_reason(
    settings: Settings, reason: str
) -> None:
    with pytest.raises(IndicatorError, match="refused") as refused:
        compute_indicator(bars(), "cdl_pattern", settings)
    assert reason in str(refused.value)
    assert refused.value.setting == "name"
