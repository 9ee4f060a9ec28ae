"""Indicators: any pandas-ta indicator by name, computed once and vectorised before the loop,
with requests that would look ahead refused.

A request goes through three steps, in this order: its name and settings are copied once into
plain values (app/engine/indicator_settings.py), the copy is checked against that indicator's
allow-list of settings with their types and ranges (app/engine/indicator_rules.py), and the
values computed from the copy must not change when later bars are cut off
(app/engine/repaint.py). `_run_pandas_ta` is the one function that turns a checked name, plain
settings and the frame into columns; the look-ahead check recomputes through it too.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Mapping
from contextlib import redirect_stdout
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np

from app.deferred_imports import deferred
from app.engine.errors import IndicatorError, TooFewBarsError
from app.engine.feed import FloatArray, SeriesView, VisibleLength
from app.engine.indicator_rules import MAX_PERIOD, REFUSED_INDICATORS, IndicatorArg
from app.engine.indicator_settings import (
    check_settings,
    plain_name,
    plain_settings,
    unknown_indicator_message,
)
from app.engine.repaint import check_prefix_stable

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

__all__ = [
    "ALWAYS_LOOK_AHEAD",
    "IndicatorArg",
    "IndicatorFrame",
    "IndicatorSource",
    "compute_indicator",
    "indicator_names",
    "load_indicator_libraries",
    "look_ahead_reason",
    "make_view",
    "unknown_indicator_message",
]

# Indicators that look ahead whatever their settings, with the reason a trader reads.
ALWAYS_LOOK_AHEAD: Mapping[str, str] = REFUSED_INDICATORS


IndicatorSource = Callable[[str, str | None, Mapping[str, IndicatorArg]], dict[str, FloatArray]]
"""Where a run's indicator values come from instead of computing them itself: called with the
checked lower-case name, the timeframe rule (None for the run's own bars) and the checked
settings, it returns the columns `compute_indicator` would return on those bars (read-only
float64 arrays of the bars' length), or raises IndicatorError. A sandboxed sweep trial gets
them from its trusted parent, which computes each distinct setting once per sweep
(sandbox/indicator_service.py); a normal run has none and computes its own."""

type FastCompute = Callable[
    [pd.DataFrame, str, dict[str, IndicatorArg]], dict[str, FloatArray] | None
]


@cache
def load_indicator_libraries() -> FastCompute:
    """Import pandas-ta (registering its DataFrame accessor) and our fast versions, once.

    Imported on first use, not with the engine: a process that only reads results (the CLI's
    parent, the web server) never pays their ~0.5 s of imports (numba with them). The sandbox
    worker calls this before it locks itself down, since it may open no file afterwards.
    Returns `compute_fast`.
    """
    import pandas_ta  # noqa: F401 - registers the DataFrame.ta accessor

    from app.engine.fast_indicators import compute_fast

    return compute_fast


@cache
def indicator_names() -> tuple[str, ...]:
    """Every indicator name pandas-ta offers through its DataFrame accessor."""
    load_indicator_libraries()
    frame = pd.DataFrame({name: [1.0] for name in ("open", "high", "low", "close", "volume")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = frame.ta.indicators(as_list=True)
    return tuple(sorted(str(name) for name in names))


def look_ahead_reason(name: str, kwargs: Mapping[str, object]) -> str | None:
    """Why this request is refused (look-ahead, a setting off the allow-list, a bad value), or
    None when the indicator may be computed with these settings."""
    try:
        plain = plain_name(name)
        check_settings(plain, plain_settings(plain, kwargs))
    except IndicatorError as error:
        return str(error)
    return None


def compute_indicator(frame: pd.DataFrame, name: object, kwargs: object) -> dict[str, FloatArray]:
    """Compute a pandas-ta indicator on the whole frame: column name -> float64 values.

    `name` and `kwargs` are read once, into plain copies, before anything else looks at them.
    Raises IndicatorError for unknown names, settings off the indicator's allow-list, bad
    values, and values that change when later bars are cut off.
    """
    plain = plain_name(name)
    settings: Mapping[str, IndicatorArg] = MappingProxyType(
        check_settings(plain, plain_settings(plain, kwargs))
    )
    try:
        columns = _run_pandas_ta(frame, plain, settings)
    except TooFewBarsError:
        columns = _no_values_yet(frame, plain, settings)
    check_prefix_stable(frame, plain, settings, columns, _run_pandas_ta)
    return columns


# Lengths of the stand-in data `_no_values_yet` tries, up to the longest warm-up a setting allows.
STAND_IN_BARS = (1_024, 16_384, 3 * MAX_PERIOD)


def _no_values_yet(
    frame: pd.DataFrame, name: str, settings: Mapping[str, IndicatorArg]
) -> dict[str, FloatArray]:
    """All-NaN columns for data shorter than the indicator's warm-up: it has no value yet at any
    bar (as backtesting.py and nautilus treat a warm-up not yet over). The column names come
    from a run on stand-in bars (the first bar repeated before the data), whose values are
    dropped."""
    for bars in STAND_IN_BARS:
        if bars <= len(frame):
            continue
        try:
            stand_in = _run_pandas_ta(_padded(frame, bars), name, settings)
        except TooFewBarsError:
            continue
        empty = np.full(len(frame), np.nan)
        empty.setflags(write=False)
        return dict.fromkeys(stand_in, empty)
    raise IndicatorError(f"{name} returned no series for these settings; check its arguments")


def _padded(frame: pd.DataFrame, bars: int) -> pd.DataFrame:
    """`frame` preceded by copies of its first bar, one bar length apart, `bars` long in all."""
    extra = bars - len(frame)
    step = frame.index[1] - frame.index[0] if len(frame) > 1 else pd.Timedelta(minutes=1)
    before = pd.DatetimeIndex(
        [frame.index[0] - step * (extra - i) for i in range(extra)], name=frame.index.name
    )
    first = frame.iloc[[0] * extra].set_axis(before)
    return pd.concat([first, frame])


def _run_pandas_ta(
    frame: pd.DataFrame, name: str, kwargs: Mapping[str, IndicatorArg]
) -> dict[str, FloatArray]:
    settings = dict(kwargs)  # already checked plain values (compute_indicator)
    fast = load_indicator_libraries()(frame, name, settings)  # equal to pandas-ta's output, or None
    if fast is not None:
        return fast
    try:
        # pandas-ta prints notes ("[i] Requires TA-Lib ..."); the engine does no I/O.
        with warnings.catch_warnings(), np.errstate(all="ignore"), redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            result = getattr(frame.ta, name)(**settings)
    except TypeError as error:
        raise IndicatorError(f"{name}: {error}") from None
    except Exception as error:  # pandas-ta raises many types for bad settings
        raise IndicatorError(
            f"{name} could not be computed: {type(error).__name__}: {error}"
        ) from None
    if isinstance(result, tuple):  # ichimoku: (lines, forward spans); the spans look ahead
        result = result[0]
    if result is frame or result is None:  # the accessor hands its input back for "no result"
        raise TooFewBarsError(name, len(frame))
    if isinstance(result, pd.Series):
        result = result.to_frame(name=str(result.name or name.upper()))
    if not isinstance(result, pd.DataFrame) or len(result) != len(frame):
        raise IndicatorError(f"{name} returned no series for these settings; check its arguments")
    out: dict[str, FloatArray] = {}
    for column in result.columns:
        values = pd.to_numeric(result[column], errors="coerce").to_numpy(dtype=np.float64)
        values = values.copy()
        values.setflags(write=False)
        out[str(column)] = values
    return out


_FOUND_NAMES = 256  # names an IndicatorFrame remembers (a strategy uses a handful)


class IndicatorFrame:
    """A multi-column indicator (macd, bbands, supertrend, ...): pick a column by name.

    `macd["MACDh_12_26_9"]` and the short form `macd["MACDh"]` (case-insensitive, the name
    before the settings suffix) both work.
    """

    __slots__ = ("_columns", "_found", "_name", "_short")

    def __init__(self, name: str, columns: dict[str, SeriesView]) -> None:
        self._name = name
        self._columns = columns
        # A strategy looks a column up on every bar, so names are resolved once: the short
        # forms (the lowered name before the first "_" -> its column, None when several columns
        # share it), and each name already asked for -> its column (up to _FOUND_NAMES).
        self._short: dict[str, SeriesView | None] = {}
        for column, view in columns.items():
            short = column.lower().split("_")[0]
            self._short[short] = None if short in self._short else view
        self._found: dict[str, SeriesView] = dict(columns)

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, key: str) -> SeriesView:
        if type(key) is str:  # the hot path: a name asked for before
            found = self._found.get(key)
            if found is not None:
                return found
        if not isinstance(key, str):
            raise TypeError(
                f"{self._name} has several columns; pick one by name first, e.g. "
                f"{self._name}[{self.columns[0]!r}][-1]. Columns: {', '.join(self.columns)}"
            )
        view = self._columns.get(key)
        if view is None:
            view = self._short.get(key.lower())
        if view is not None:
            if type(key) is str and len(self._found) < _FOUND_NAMES:
                self._found[key] = view
            return view
        raise KeyError(f"{self._name} has no column {key!r}; columns: {', '.join(self.columns)}")

    def __repr__(self) -> str:
        return f"<{self._name}: columns {', '.join(self.columns)}>"


def make_view(
    name: str, columns: dict[str, FloatArray], cursor: VisibleLength
) -> SeriesView | IndicatorFrame:
    """One column -> a series view; several -> a frame of series views."""
    views = {column: SeriesView(values, cursor, column) for column, values in columns.items()}
    if len(views) == 1:
        return next(iter(views.values()))
    return IndicatorFrame(name, views)
