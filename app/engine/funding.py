"""The funding schedule: which bars settle funding on a futures position, and at what rate.

Funding instants come from the data where it has a funding-rate series: each row of the series
is one settlement (Binance's `calc_time`), so the interval follows the data, 8 h, 4 h or 1 h as
the exchange changed it over time. Outside the series' span (before its first instant, or
after its last instant plus its last interval) the instants are the multiples of the run's
`funding_interval_h` since the epoch (00:00, 08:00 and 16:00 UTC for 8 h, as on Binance) at
the run's constant `funding_rate`; with no series, they are everywhere. A bar settles the
instants in (previous bar's open, its open], oldest first.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from app.engine.config import RunConfig
from app.engine.feed import MarketData
from app.engine.types import Mode

NS_PER_HOUR = 3_600_000_000_000
IntArray = npt.NDArray[np.int64]


class FundingSchedule:
    """The funding bars of one run's market; `next_bar` walks them forwards once."""

    __slots__ = ("_config", "_due", "_interval_ns", "_market", "_next", "bars", "indices")

    def __init__(self, market: MarketData, config: RunConfig) -> None:
        self._market = market
        self._config = config
        self._interval_ns = config.funding_interval_h * NS_PER_HOUR
        self._due = self._instants_by_bar()
        self.indices = sorted(self._due)
        self.bars = frozenset(self.indices)
        self._next = 0  # position in `indices` of the next funding bar

    def _instants_by_bar(self) -> dict[int, tuple[int, ...]]:
        """Funding instants (epoch ns) by the bar whose open settles them. None when funding
        cannot change anything (spot, or a zero constant rate with no rate series)."""
        market = self._market
        series = market.funding_times
        if self._config.mode is Mode.SPOT or (
            self._config.funding_rate == 0.0 and len(series) == 0
        ):
            return {}
        instants = self.all_instants()
        bars = np.searchsorted(market.time, instants, side="left")
        due: dict[int, list[int]] = {}
        for bar, instant in zip(bars.tolist(), instants.tolist(), strict=True):
            due.setdefault(bar, []).append(instant)
        return {bar: tuple(values) for bar, values in due.items()}

    def all_instants(self) -> IntArray:
        """Every funding instant in (first bar's open, last bar's open], ascending: the
        series' own instants inside its span, the constant schedule outside it."""
        time = self._market.time
        first_open, last_open = int(time[0]), int(time[-1])
        interval = self._interval_ns
        first = (first_open // interval + 1) * interval
        constant = np.arange(first, last_open + 1, interval, dtype=np.int64)
        series = self._market.funding_times
        if len(series) == 0:
            return constant
        last_step = int(series[-1] - series[-2]) if len(series) >= 2 else interval
        outside = (constant < series[0]) | (constant >= int(series[-1]) + last_step)
        inside = series[(series > first_open) & (series <= last_open)]
        merged: IntArray = np.union1d(constant[outside], inside).astype(np.int64)
        return merged

    def next_bar(self, index: int, end: int) -> int:
        """The first funding bar at or after `index` (`end` when none is left). Calls must not
        go backwards: the position in the schedule only moves forwards."""
        indices = self.indices
        while self._next < len(indices) and indices[self._next] < index:
            self._next += 1
        return indices[self._next] if self._next < len(indices) else end

    def instants(self, index: int) -> tuple[int, ...]:
        """The funding instants (epoch ns) bar `index`'s open settles, oldest first."""
        return self._due.get(index, ())

    def rate_at(self, instant: int) -> float:
        """The funding rate at `instant` (a fraction per interval): the series' rate when the
        series has this instant, the run's constant rate otherwise."""
        times = self._market.funding_times
        if len(times) == 0:
            return self._config.funding_rate
        position = int(times.searchsorted(instant, side="left"))
        if position < len(times) and int(times[position]) == instant:
            return float(self._market.funding_rates[position])
        return self._config.funding_rate
