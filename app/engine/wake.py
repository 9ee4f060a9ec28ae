"""Wake-up declarations: the signals a strategy names with `self.wake_on(...)` in
`initialize()`, and the bars on which they fire, computed by the engine over whole series.

A strategy whose `on_data` acts only on a few signals (a crossover, a level) can say so once;
the run then calls `on_data` only on the bars that need it (docs/engine.md, "Wake-ups"):

- every bar where a declared condition fires;
- every bar on which the broker did something for the account (an order filled, was refused,
  cancelled or expired, a stop-loss, take-profit or trailing stop closed a trade, a position
  was liquidated, funding was paid or received);
- the first bar after the warm-up.

No look-ahead by construction: the engine, never strategy code, evaluates the conditions, and
a condition at bar t reads each series exactly as `crossover` does at bar t, through its own
cursor: the value visible at t and the one before it (a higher-timeframe series: its last two
closed bars at t). So the bars a strategy is woken on depend on nothing after them, and the
run with a declaration equals the every-bar run for any strategy whose `on_data` does nothing
on the other bars.
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from app.engine.feed import Cursor, FloatArray, IntArray, SeriesView
from app.engine.indicators import IndicatorFrame
from app.engine.timeframes import MappedCursor, TimeframeView

# kind -> how many operands it takes and what it means (the sentences docs/engine.md shows)
WAKE_KINDS: Final = {
    "cross": "a crosses b in either direction (crossover(a, b) or crossover(b, a))",
    "crossover": "a crosses above b (crossover(a, b))",
    "crossunder": "a crosses below b (crossunder(a, b))",
    "above": "a is above b (a[-1] > b[-1])",
    "below": "a is below b (a[-1] < b[-1])",
}
WAKE_EXAMPLE: Final = (
    'for example self.wake_on("cross", self.fast, self.slow), '
    'self.wake_on("below", self.rsi, 30) or self.wake_on(every=60)'
)

Operand = SeriesView | float
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class WakeCondition:
    """One declared condition: `kind` (a WAKE_KINDS key) of series `a` against `b` (a series
    or a number)."""

    kind: str
    a: SeriesView
    b: Operand


class WakePlan:
    """What `initialize()` declared with `wake_on`: conditions and `every=N` periods (bars)."""

    __slots__ = ("_base", "conditions", "periods")

    def __init__(self, base: Cursor) -> None:
        self._base = base  # the run's cursor: series on it read bar t at index t
        self.conditions: list[WakeCondition] = []
        self.periods: list[int] = []

    @property
    def is_declared(self) -> bool:
        return bool(self.conditions or self.periods)

    def declare(self, condition: tuple[object, ...], every: object) -> None:
        """Add `wake_on(*condition, every=every)`; TypeError/ValueError in one sentence for a
        declaration the engine cannot evaluate (nothing is added then)."""
        period = _period(every)
        if not condition:
            if period is None:
                raise TypeError(f"wake_on needs a condition or every=N bars; {WAKE_EXAMPLE}")
            self.periods.append(period)
            return
        given = condition[0]
        # str.lower on the text itself: a str subclass's own lower() or __eq__ is never used
        kind = str.lower(given) if isinstance(given, str) else None
        if kind not in WAKE_KINDS:
            known = ", ".join(f'"{name}"' for name in WAKE_KINDS)
            shown = repr(str.__str__(given))[:40] if kind is not None else type(given).__name__
            close = get_close_matches(kind, list(WAKE_KINDS), n=1) if kind is not None else []
            guess = f'; did you mean "{close[0]}"?' if close else ""
            raise ValueError(f"wake_on's first argument is one of {known}, not {shown}{guess}")
        if len(condition) != 3:
            raise TypeError(
                f'wake_on("{kind}", a, b) takes two series (b may be a number), '
                f"got {len(condition) - 1}; {WAKE_EXAMPLE}"
            )
        a = self._series(condition[1], kind, "a")
        b = _number(condition[2])
        operand: Operand = self._series(condition[2], kind, "b") if b is None else b
        self.conditions.append(WakeCondition(kind, a, operand))
        if period is not None:
            self.periods.append(period)

    def _series(self, value: object, kind: str, role: str) -> SeriesView:
        if type(value) is SeriesView:
            cursor = value._cursor
            if cursor is self._base or (
                type(cursor) is MappedCursor and cursor._base is self._base
            ):
                return value
        where = f'wake_on("{kind}", a, b): {role}'
        if isinstance(value, IndicatorFrame):
            raise TypeError(
                f"{where} is a multi-column indicator; pick one column, such as "
                f'macd["MACDh"] ({", ".join(value.columns)[:80]})'
            )
        if isinstance(value, TimeframeView):
            raise TypeError(f"{where} is a timeframe; pick one of its series, such as tf.close")
        what = "a number" if role == "a" and _number(value) is not None else type(value).__name__
        raise TypeError(
            f"{where} must be a series of this run (self.data.close, a value returned by "
            f"self.indicator(...), or a timeframe's series), not {what}"
        )

    def bars(self, first: int, stop: int) -> IntArray:
        """The sorted indices from `first` to `stop - 1` where `on_data` is called for the
        declarations alone: `first` (the first bar after the warm-up), each bar where a
        condition fires, and `first + k * N` for each `every=N`."""
        fired = np.zeros(stop, dtype=bool)
        for condition in self.conditions:
            fired |= fires(condition, stop, self._base)
        for period in self.periods:
            fired[first::period] = True
        if first < stop:
            fired[first] = True
        return np.flatnonzero(fired[first:]).astype(np.int64) + first


def fires(condition: WakeCondition, stop: int, base: Cursor) -> BoolArray:
    """Where `condition` holds at bars 0 to `stop - 1`: each series read as at that bar (its
    visible value now and the one before), compared exactly as `crossover` compares them."""
    a_prev, a_now = aligned(condition.a, stop, base)
    b_prev, b_now = aligned(condition.b, stop, base)
    kind = condition.kind
    with np.errstate(invalid="ignore"):  # NaN compares False, as in crossover
        if kind == "above":
            return a_now > b_now
        if kind == "below":
            return a_now < b_now
        over = (a_prev < b_prev) & (a_now > b_now)
        if kind == "crossover":
            return over
        under = (b_prev < a_prev) & (b_now > a_now)
        return under if kind == "crossunder" else over | under


def aligned(operand: Operand, stop: int, base: Cursor) -> tuple[FloatArray, FloatArray]:
    """(previous, current) value of `operand` at bars 0 to `stop - 1`: what `x[-2]` and `x[-1]`
    read at that bar (NaN where fewer values are visible); a number is itself at every bar."""
    if not isinstance(operand, SeriesView):
        constant = np.full(stop, operand, dtype=np.float64)
        return constant, constant
    cursor = operand._cursor
    ends: IntArray
    if cursor is base:
        ends = np.arange(1, stop + 1, dtype=np.int64)
    elif isinstance(cursor, MappedCursor):  # a higher timeframe: its closed bars at each bar
        ends = np.asarray(cursor._counts, dtype=np.int64)[:stop]
    else:  # declare() admits only these two
        raise TypeError(f"{operand.name} does not follow this run's bars")
    values = np.asarray(operand._values, dtype=np.float64)
    return _visible(values, ends - 2), _visible(values, ends - 1)


def _visible(values: FloatArray, positions: IntArray) -> FloatArray:
    """`values[positions]`, NaN where a position is before the first value."""
    picked = values[np.clip(positions, 0, max(len(values) - 1, 0))] if len(values) else None
    if picked is None:
        return np.full(len(positions), np.nan)
    return np.where(positions >= 0, picked, np.nan)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        raise ValueError("wake_on's level is too large; give a number such as 30") from None
    if number != number:  # NaN would never compare True: a declaration that never fires
        raise ValueError("wake_on's level is NaN; give a number such as 30")
    return number


def _period(every: object) -> int | None:
    if every is None:
        return None
    if isinstance(every, bool) or not isinstance(every, int) or every < 1:
        raise TypeError(f"wake_on(every=N): N is a whole number of bars, 1 or more, not {every!r}")
    return every


class _Account(Protocol):
    @property
    def funding_paid(self) -> float: ...

    @property
    def liquidations(self) -> int: ...


class _Activity(Protocol):
    """What `activity` reads of the object the loop steps (the broker)."""

    @property
    def finished(self) -> Sized: ...

    @property
    def trades(self) -> Sized: ...

    @property
    def portfolio(self) -> _Account: ...


def activity(broker: _Activity) -> tuple[int, int, float, int]:
    """A fingerprint that changes whenever the broker did something for the account: an order
    ended (filled, refused, cancelled, expired), a trade closed (an exit, a liquidation), or
    funding was settled."""
    portfolio = broker.portfolio
    return (
        len(broker.finished),
        len(broker.trades),
        portfolio.funding_paid,
        portfolio.liquidations,
    )
