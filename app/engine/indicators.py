"""Indicators: any pandas-ta indicator by name, computed once and vectorised before the loop,
with requests that would look ahead refused.

Look-ahead is stopped twice: by rules on known settings (negative offsets, centred windows,
forward spans) and by a check that the values over an early prefix of the data do not change
when later bars are added (an indicator that repaints fails it).
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Mapping
from functools import cache

import numpy as np
import pandas as pd
import pandas_ta  # noqa: F401 - registers the DataFrame.ta accessor used below

from app.engine.errors import IndicatorError
from app.engine.feed import FloatArray, SeriesView, VisibleLength

IndicatorArg = bool | int | float | str

# Indicators that look ahead whatever their settings, with the reason a trader reads.
ALWAYS_LOOK_AHEAD: Mapping[str, str] = {
    "tos_stdevall": "it fits one regression over the whole data set, future bars included",
    "zigzag": "its pivots are confirmed by later bars, so past values change (it repaints)",
}

PREFIX_CHECK_BARS = 4_000

# pandas-ta accessor switches that print or write into the frame; never passed through.
IGNORED_SETTINGS = frozenset({"append", "timed", "verbose"})


@cache
def indicator_names() -> tuple[str, ...]:
    """Every indicator name pandas-ta offers through its DataFrame accessor."""
    frame = pd.DataFrame({name: [1.0] for name in ("open", "high", "low", "close", "volume")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = frame.ta.indicators(as_list=True)
    return tuple(sorted(str(name) for name in names))


def look_ahead_reason(name: str, kwargs: Mapping[str, object]) -> str | None:
    """Why these indicator settings would read future bars, or None when they don't."""
    if name in ALWAYS_LOOK_AHEAD:
        return f"'{name}' looks ahead: {ALWAYS_LOOK_AHEAD[name]}"
    offset = kwargs.get("offset")
    if isinstance(offset, int | float) and not isinstance(offset, bool) and offset < 0:
        return f"a negative offset ({offset}) shifts future values onto past bars"
    if name == "dpo" and kwargs.get("centered", True) is not False:
        return "'dpo' is centred by default, which reads future bars; pass centered=False"
    if kwargs.get("centered") is True:
        return "centered=True uses a window around each bar, which reads future bars"
    if name == "ichimoku" and kwargs.get("include_chikou", True) is not False:
        return (
            "ichimoku's chikou span is the close shifted back onto past bars; "
            "pass include_chikou=False"
        )
    return None


def unknown_indicator_message(name: str) -> str:
    close = difflib.get_close_matches(name, indicator_names(), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown indicator '{name}'{hint} (any pandas-ta indicator name works)"


def compute_indicator(
    frame: pd.DataFrame, name: str, kwargs: Mapping[str, IndicatorArg]
) -> dict[str, FloatArray]:
    """Compute a pandas-ta indicator on the whole frame: column name -> float64 values.

    Raises IndicatorError for unknown names, bad arguments or settings that look ahead.
    """
    if name not in indicator_names():
        raise IndicatorError(unknown_indicator_message(name))
    for key, value in kwargs.items():
        if not isinstance(value, bool | int | float | str) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise IndicatorError(
                f"{name}: argument {key}={value!r} must be a finite number, a bool or a string"
            )
    reason = look_ahead_reason(name, kwargs)
    if reason is not None:
        raise IndicatorError(f"{name}: refused, {reason}")
    columns = _run_pandas_ta(frame, name, kwargs)
    _check_prefix_stable(frame, name, kwargs, columns)
    return columns


def _run_pandas_ta(
    frame: pd.DataFrame, name: str, kwargs: Mapping[str, IndicatorArg]
) -> dict[str, FloatArray]:
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            settings = {k: v for k, v in kwargs.items() if k not in IGNORED_SETTINGS}
            result = getattr(frame.ta, name)(**settings)
    except TypeError as error:
        raise IndicatorError(f"{name}: {error}") from None
    except Exception as error:  # pandas-ta raises many types for bad settings
        raise IndicatorError(
            f"{name} could not be computed: {type(error).__name__}: {error}"
        ) from None
    if isinstance(result, tuple):  # ichimoku: (lines, forward spans); the spans look ahead
        result = result[0]
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


def _check_prefix_stable(
    frame: pd.DataFrame,
    name: str,
    kwargs: Mapping[str, IndicatorArg],
    full: dict[str, FloatArray],
) -> None:
    cut = min(len(frame) // 2, PREFIX_CHECK_BARS)
    if cut < 10:
        return
    prefix = _run_pandas_ta(frame.iloc[:cut], name, kwargs)
    for column, values in prefix.items():
        whole = full.get(column)
        if whole is None:
            continue
        if not np.allclose(values, whole[:cut], rtol=1e-9, atol=1e-12, equal_nan=True):
            changed = int(
                np.flatnonzero(
                    ~np.isclose(values, whole[:cut], rtol=1e-9, atol=1e-12, equal_nan=True)
                )[0]
            )
            raise IndicatorError(
                f"{name}: refused, its value at bar {changed} changes when later bars are "
                "added, so it looks ahead"
            )


class IndicatorFrame:
    """A multi-column indicator (macd, bbands, supertrend, ...): pick a column by name.

    `macd["MACDh_12_26_9"]` and the short form `macd["MACDh"]` (case-insensitive, the name
    before the settings suffix) both work.
    """

    __slots__ = ("_columns", "_name")

    def __init__(self, name: str, columns: dict[str, SeriesView]) -> None:
        self._name = name
        self._columns = columns

    @property
    def columns(self) -> list[str]:
        return list(self._columns)

    def __getitem__(self, key: str) -> SeriesView:
        if not isinstance(key, str):
            raise TypeError(
                f"{self._name} has several columns; pick one by name first, e.g. "
                f"{self._name}[{self.columns[0]!r}][-1]. Columns: {', '.join(self.columns)}"
            )
        if key in self._columns:
            return self._columns[key]
        wanted = key.lower()
        matches = [c for c in self._columns if c.lower().split("_")[0] == wanted]
        if len(matches) == 1:
            return self._columns[matches[0]]
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
