"""The funding schedule: which bars settle funding on a futures position, and at what rate.

Funding instants are the multiples of the funding interval since the epoch (00:00, 08:00 and
16:00 UTC for 8 h, as on Binance). A bar settles the instants in (previous bar's open, its open],
at the rate of the data's funding series in force at each instant (the latest published at or
before it), or the run's constant `funding_rate` where there is no series or it starts later.
"""

from __future__ import annotations

import numpy as np

from app.engine.config import RunConfig
from app.engine.feed import MarketData
from app.engine.types import Mode

NS_PER_HOUR = 3_600_000_000_000


class FundingSchedule:
    """The funding bars of one run's market; `next_bar` walks them forwards once."""

    __slots__ = ("_config", "_interval_ns", "_market", "_next", "bars", "indices")

    def __init__(self, market: MarketData, config: RunConfig) -> None:
        self._market = market
        self._config = config
        self._interval_ns = config.funding_interval_h * NS_PER_HOUR
        self.indices = self._bar_indices()
        self.bars = frozenset(self.indices)
        self._next = 0  # position in `indices` of the next funding bar

    def _bar_indices(self) -> list[int]:
        """Bars whose open settles funding, ascending: a funding instant falls in (previous
        open, open]. None when funding cannot change anything (spot, or a zero constant rate
        with no rate series)."""
        market = self._market
        if self._config.mode is Mode.SPOT or (
            self._config.funding_rate == 0.0 and len(market.funding_times) == 0
        ):
            return []
        periods = market.time // self._interval_ns
        indices: list[int] = (np.flatnonzero(np.diff(periods) > 0) + 1).tolist()
        return indices

    def next_bar(self, index: int, end: int) -> int:
        """The first funding bar at or after `index` (`end` when none is left). Calls must not
        go backwards: the position in the schedule only moves forwards."""
        indices = self.indices
        while self._next < len(indices) and indices[self._next] < index:
            self._next += 1
        return indices[self._next] if self._next < len(indices) else end

    def instants(self, index: int) -> range:
        """The funding instants (epoch ns) bar `index`'s open settles, oldest first."""
        if index not in self.bars:
            return range(0)
        time = self._market.time
        interval = self._interval_ns
        due = int(time[index] // interval - time[index - 1] // interval)
        first = (int(time[index - 1]) // interval + 1) * interval
        return range(first, first + due * interval, interval)

    def rate_at(self, instant: int) -> float:
        """The funding rate in force at `instant` (a fraction per interval)."""
        times = self._market.funding_times
        if len(times) == 0:
            return self._config.funding_rate
        position = int(times.searchsorted(instant, side="right")) - 1
        if position < 0:
            return self._config.funding_rate
        return float(self._market.funding_rates[position])
