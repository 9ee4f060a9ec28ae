"""Reading an indicator request's settings the way pandas-ta reads them, for the fast path.

A fast implementation accepts only the settings whose meaning it reproduces exactly. Anything
else (a key it does not know, a value pandas-ta would silently replace by its default, too few
bars) raises `NotOnFastPath`, and the dispatcher hands the request to pandas-ta itself, so the
numbers never depend on which path ran. `NotOnFastPath` never leaves this package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from app.engine.feed import FloatArray

IndicatorArg = bool | int | float | str


class NotOnFastPath(Exception):  # noqa: N818 - a signal to the dispatcher, not an error
    """This request is computed by pandas-ta, not the fast path (the reason is for tests)."""


@dataclass(frozen=True, slots=True)
class Bars:
    """The OHLCV columns of the frame an indicator runs on, as float64 arrays."""

    frame: pd.DataFrame
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    @property
    def size(self) -> int:
        return int(self.close.size)

    def require(self, bars: int) -> None:
        """pandas-ta returns nothing below its minimum length: leave that case to it."""
        if self.size < bars:
            raise NotOnFastPath(f"{self.size} bars, fewer than {bars}")


def bars_of(frame: pd.DataFrame) -> Bars:
    """The frame's OHLCV columns; raises NotOnFastPath unless all are finite float64."""
    arrays: list[FloatArray] = []
    for column in ("open", "high", "low", "close", "volume"):
        if column not in frame.columns:
            raise NotOnFastPath(f"no {column} column")
        values = frame[column].to_numpy()
        if values.dtype != np.float64 or not np.isfinite(values).all():
            raise NotOnFastPath(f"{column} is not finite float64")
        view = values.view()
        view.setflags(write=False)  # one numba specialisation per kernel, as warmed at setup
        arrays.append(view)
    return Bars(frame, *arrays)


class Settings:
    """One request's settings, read once each; `done()` refuses any key left unread."""

    __slots__ = ("_read", "_values")

    def __init__(self, values: Mapping[str, IndicatorArg]) -> None:
        self._values = dict(values)
        self._read: set[str] = set()

    def _get(self, key: str) -> IndicatorArg | None:
        self._read.add(key)
        return self._values.get(key)

    def positive_int(self, key: str, default: int) -> int:
        """pandas-ta's `v_pos_default` for an int: a given positive int, else the default
        (a float, bool, zero or negative value is left to pandas-ta)."""
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise NotOnFastPath(f"{key}={value!r}")
        return value

    def positive_number(self, key: str, default: float) -> int | float:
        """`v_pos_default` for an int or float: the value as given (its type shows in the
        column names, `_3` vs `_3.0`), else the default."""
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise NotOnFastPath(f"{key}={value!r}")
        return value

    def number(self, key: str, default: float) -> float:
        """`v_scalar`: any int or float (not bool) as float, else the default."""
        value = self._get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise NotOnFastPath(f"{key}={value!r}")
        return float(value)

    def offset(self) -> int:
        """`v_offset`: the post shift; negative offsets are refused before dispatch."""
        value = self._get("offset")
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise NotOnFastPath(f"offset={value!r}")
        return value

    def drift(self) -> int:
        """`v_drift`: the difference period, 1 by default."""
        value = self._get("drift")
        if value is None:
            return 1
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise NotOnFastPath(f"drift={value!r}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        """`v_bool`: a given bool, else the default (a non-bool is left to pandas-ta)."""
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise NotOnFastPath(f"{key}={value!r}")
        return value

    def choice(self, key: str, supported: frozenset[str], default: str) -> str:
        """A string setting (case-insensitive) among the values the fast path reproduces."""
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or value.lower() not in supported:
            raise NotOnFastPath(f"{key}={value!r}")
        return value.lower()

    def text(self, key: str, default: str) -> str:
        """`v_str`: a non-empty string as given, else the default."""
        value = self._get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            raise NotOnFastPath(f"{key}={value!r}")
        return value

    def value(self, key: str) -> IndicatorArg | None:
        """The raw value, for settings pandas-ta reads with its own rule (e.g. hwma's)."""
        return self._get(key)

    def done(self) -> None:
        """Refuse the fast path for any setting the implementation did not read."""
        unread = sorted(set(self._values) - self._read)
        if unread:
            raise NotOnFastPath(f"unsupported settings: {', '.join(unread)}")
