"""The warm-up: the first bar a strategy's `on_data` sees, decided once after `initialize()`.

Rules (docs/engine.md, "Warm-up"), all pure functions of the run's bars, the declared views and
the strategy's `warmup` setting, so every door (CLI, API, sweeps, walk-forward) gets the same:

- Automatic (no `warmup` set, or `warmup = None`): `on_data` starts at the first bar where every
  indicator declared in `initialize()` has a value, and every higher-timeframe view declared
  there has a closed bar. A one-column indicator has a value from its first non-NaN value. A
  multi-column one (macd, bbands, supertrend, ...) once every column has had its first value,
  a long/short pair of columns (supertrend's `SUPERTl`/`SUPERTs`, psar's, ...: only the side
  the indicator is on has a value) counting as one. An indicator with no value at all on the
  data (data shorter than its length) is never ready: `on_data` is never called. Each rule
  reads only values up to the bar it decides, so cutting later bars never moves the start.
  Like backtrader's minimum period; backtesting.py starts one bar later still (it wants two
  values), which changes nothing for crossovers (a crossover needs the bar before too).
- `warmup = N` (a whole number of bars, 0 to opt out): `on_data` starts at bar N of the data.
- `warmup = "3d"` (a duration in the timeframe grammar of `app.engine.timeframes`, calendar
  months excluded): `on_data` starts at the first bar opening at or after the first bar + 3d.

Bar numbers count from the first bar of the data, so bars before the run's `start` warm up too:
a walk-forward test window, whose earlier bars are history, trades from its first bar. Only the
traded bars on which `on_data` was not called count as the run's warm-up bars. The equity curve
and the metrics still cover every traded bar, warm-up included (flat at the initial cash), as
backtesting.py's equity curve does: figures of strategies with different warm-ups compare.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from app.engine.errors import StrategyDefinitionError, TimeframeError
from app.engine.feed import FloatArray, MarketData, SeriesView
from app.engine.indicators import IndicatorFrame
from app.engine.timeframes import MappedCursor, TimeframeView, parse_timeframe

WarmupSetting = int | str | None
"""A strategy's `warmup`: None (automatic), a number of bars (0 = off) or a duration text."""

DeclaredView = SeriesView | IndicatorFrame | TimeframeView

_SETTING_HELP = (
    "set warmup to a whole number of bars (0 turns the warm-up off), a duration such as "
    "'3d' or '12h', or leave it out for the automatic warm-up"
)


@dataclass(frozen=True, slots=True)
class Warmup:
    """Where `on_data` starts: `first_index` (a bar of the data; the data's length when it
    never starts), `bars` (traded bars before it: the run's warm-up), `rule` ("automatic",
    "bars", "duration" or "off") and `reason`, the sentence the run's log gets."""

    first_index: int
    bars: int
    rule: str
    reason: str

    @property
    def is_never_ready(self) -> bool:
        """True when `on_data` is not called on any bar."""
        return self.reason.startswith("warm-up never ends")


def warmup_setting(value: object) -> WarmupSetting:
    """A strategy's `warmup` attribute checked: None, an int >= 0, or a duration text that
    parses; anything else raises StrategyDefinitionError with what to write instead."""
    if value is None:
        return None
    if type(value) is int:  # exact types only: nothing of the strategy's own runs here
        if value < 0:
            raise StrategyDefinitionError(f"warmup = {value} is negative; {_SETTING_HELP}")
        return value
    if type(value) is not str:
        raise StrategyDefinitionError(
            f"warmup = {_shown(value)} is not understood; {_SETTING_HELP}"
        )
    duration_ns(value)  # raises with the reason
    return value


def duration_ns(text: str) -> int:
    """A `warmup` duration ("3d", "12h", "90m", "1w") in nanoseconds."""
    try:
        timeframe = parse_timeframe(text)
    except TimeframeError:
        raise StrategyDefinitionError(
            f"warmup = {_shown(text)} is not a duration; {_SETTING_HELP}"
        ) from None
    if timeframe.duration_ns is None:
        raise StrategyDefinitionError(
            f"warmup = {_shown(text)}: months vary in length; write the warm-up in days or weeks"
        )
    return timeframe.duration_ns


def plan_warmup(
    setting: WarmupSetting,
    views: Iterable[tuple[str, DeclaredView]],
    market: MarketData,
    start: int,
) -> Warmup:
    """The warm-up of a run whose first traded bar is `start`, from the strategy's checked
    `setting` and the views `initialize()` declared (label, view)."""
    total = len(market)
    if setting == 0:
        return _warmup(start, start, total, "off", "warm-up off (warmup = 0)")
    if isinstance(setting, int):
        return _warmup(setting, start, total, "bars", f"warmup = {setting} bars")
    if isinstance(setting, str):
        first_time = int(market.time[0]) + duration_ns(setting)
        index = int(np.searchsorted(market.time, first_time, side="left"))
        return _warmup(index, start, total, "duration", f"warmup = {setting!r}")
    latest, label = 0, ""
    for name, view in views:
        index = ready_index(view, total)
        if index >= total:
            return Warmup(
                total,
                total - start,
                "automatic",
                f"warm-up never ends: {name} has no value on any of the {total:,} bars "
                "(use more data or a shorter length, or set warmup = 0 and check "
                "self.is_ready(...))",
            )
        if index > latest:
            latest, label = index, name
    reason = f"{label} has its first value" if label else "no indicator needs one"
    return _warmup(latest, start, total, "automatic", reason)


def _warmup(index: int, start: int, total: int, rule: str, why: str) -> Warmup:
    first = min(max(index, start), total)
    bars = first - start
    if first >= total:
        return Warmup(total, bars, rule, f"warm-up never ends: {why} covers all {total:,} bars")
    return Warmup(first, bars, rule, why)


def describe(warmup: Warmup) -> str:
    """The run's log line about its warm-up (stamped with the first bar on_data sees)."""
    if warmup.is_never_ready:
        return f"{warmup.reason}; on_data was never called"
    plural = "" if warmup.bars == 1 else "s"
    return (
        f"warm-up: {warmup.bars:,} bar{plural}; on_data starts with this bar "
        f"({warmup.first_index:,} of the data): {warmup.reason}"
    )


def ready_index(view: DeclaredView, bars_total: int) -> int:
    """The first bar of the run's data on which `view` has a value (see the module's rules);
    `bars_total` when it never has one."""
    if isinstance(view, TimeframeView):
        return _visible_from(view.cursor, 0, bars_total)
    if isinstance(view, IndicatorFrame):
        return _frame_ready(view, bars_total)
    return _ready_column(view, bars_total)


def _frame_ready(frame: IndicatorFrame, bars_total: int) -> int:
    """The bar where every column group of `frame` has had its first value (`_column_groups`);
    `bars_total` when a group never has one."""
    latest = 0
    for group in _column_groups(list(frame._columns)):  # the engine's own frame
        firsts = [_ready_column(frame._columns[name], bars_total) for name in group]
        latest = max(latest, min(firsts))
    return latest


def _column_groups(columns: list[str]) -> list[tuple[str, ...]]:
    """Columns that stand for one value: a long/short pair (`SUPERTl`/`SUPERTs`, `PSARl`/
    `PSARs`, `HILOl`/`HILOs`, `QQEl`/`QQEs`: only the side the indicator is on has a value) is
    one group, any other column its own. Read from the names alone, so the rule is causal."""
    by_short = {name.split("_", 1)[0]: name for name in columns}
    groups: list[tuple[str, ...]] = []
    paired: set[str] = set()
    for name in columns:
        short = name.split("_", 1)[0]
        if name in paired:
            continue
        if short.endswith("l") and len(short) > 1 and (other := by_short.get(short[:-1] + "s")):
            groups.append((name, other))
            paired.update((name, other))
        elif not (short.endswith("s") and by_short.get(short[:-1] + "l")):
            groups.append((name,))
    return groups


def _ready_column(view: SeriesView, bars_total: int) -> int:
    first = _first_value(view._values)
    return bars_total if first is None else _visible_from(view._cursor, first, bars_total)


def _first_value(values: FloatArray) -> int | None:
    """The index of the first non-NaN value, None when there is none."""
    missing = np.isnan(values)
    if missing.all():
        return None
    return int(np.argmin(missing))


def _visible_from(cursor: object, position: int, bars_total: int) -> int:
    """The first base bar on which value `position` of a view with `cursor` is visible."""
    if isinstance(cursor, MappedCursor):  # a higher timeframe: once that bar has closed
        counts = np.asarray(cursor._counts)
        return int(np.searchsorted(counts, position + 1, side="left"))
    return min(position, bars_total)


def _shown(value: object) -> str:
    text = repr(value) if type(value) in (int, float, str, bool) else type(value).__name__
    return text if len(text) <= 40 else text[:37] + "..."
