"""The shared timeline of a run over several symbols: their bars put on one set of bar times.

The timeline is the union of the symbols' bar times. A bar one symbol lacks is never filled
in (no forward fill, no made-up price): by default such data is refused with a sentence naming
the symbol and its first missing times; `missing_bars="common"` trades only the bar times
every symbol has, and the number of bar times dropped is kept (`MarketData.bars_dropped`) for
the run's log and results. Symbols with different bar sizes are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from app.engine.errors import MarketDataError
from app.engine.feed import MARK_COLUMNS, OHLCV, IntArray, MarketData, ns_to_iso

MISSING_BAR_POLICIES: Final = ("refuse", "common")
"""What a run does with a bar time not every symbol has: refuse the data, or trade only the
bar times common to all symbols."""
SHOWN_MISSING_TIMES: Final = 3


def align_symbols(markets: Sequence[MarketData], *, missing_bars: str = "refuse") -> MarketData:
    """The first market (the primary symbol) carrying the others as its other_symbols, every one
    on the same bar times. MarketDataError with one sentence for duplicate symbols, different
    bar sizes, or (with `missing_bars="refuse"`) a bar time some symbol lacks."""
    if missing_bars not in MISSING_BAR_POLICIES:
        raise MarketDataError(
            f"missing_bars must be one of {', '.join(MISSING_BAR_POLICIES)}, got {missing_bars!r}"
        )
    if not markets:
        raise MarketDataError("a run needs the bars of at least one symbol")
    _check_symbols(markets)
    if len(markets) == 1:
        return markets[0]
    _check_bar_sizes(markets)
    union = markets[0].time
    common = markets[0].time
    for market in markets[1:]:
        union = np.union1d(union, market.time)
        common = np.intersect1d(common, market.time, assume_unique=True)
    if len(common) < len(union) and missing_bars == "refuse":
        raise MarketDataError(_missing_sentence(markets, union))
    if len(common) == 0:
        raise MarketDataError("the symbols have no bar time in common, so nothing can be traded")
    aligned = [_at_times(market, common) for market in markets]
    primary = aligned[0]
    return _with(primary, other_symbols=tuple(aligned[1:]), bars_dropped=len(union) - len(common))


def _check_symbols(markets: Sequence[MarketData]) -> None:
    seen: set[str] = set()
    for market in markets:
        if market.other_symbols:
            raise MarketDataError(f"{market.symbol}'s bars already carry other symbols")
        if market.symbol in seen:
            raise MarketDataError(
                f"the symbol {market.symbol} is given twice; name each dataset's symbol once "
                "(--data SYMBOL=PATH)"
            )
        seen.add(market.symbol)


def _check_bar_sizes(markets: Sequence[MarketData]) -> None:
    primary = markets[0]
    size = _bar_size(primary)
    for market in markets[1:]:
        if _bar_size(market) != size:
            raise MarketDataError(
                f"{market.symbol} has {_duration(_bar_size(market))} bars and "
                f"{primary.symbol} {_duration(size)} bars; every symbol of a run needs the "
                "same bar size (resample the finer data first)"
            )


def _bar_size(market: MarketData) -> int:
    """The bar size in ns: the smallest spacing of its bar times (a missing bar never makes
    it smaller, as it can make the most common one larger)."""
    if len(market) < 2:
        return market.bar_ns
    return int(np.diff(market.time).min())


def _missing_sentence(markets: Sequence[MarketData], union: IntArray) -> str:
    """The refusal naming the first symbol that lacks bars, how many, and the first times."""
    for market in markets:
        missing = np.setdiff1d(union, market.time, assume_unique=True)
        if len(missing):
            shown = ", ".join(ns_to_iso(int(t)) for t in missing[:SHOWN_MISSING_TIMES])
            more = ", ..." if len(missing) > SHOWN_MISSING_TIMES else ""
            return (
                f"{market.symbol} has no bar at {len(missing):,} of the {len(union):,} bar times "
                f"the symbols have (first: {shown}{more}); bars are never filled in: complete "
                "the data, or trade only the bar times every symbol has with missing_bars="
                "common (--missing-bars common)"
            )
    raise AssertionError("unreachable: some symbol lacks a bar time")  # pragma: no cover


def _at_times(market: MarketData, times: IntArray) -> MarketData:
    """`market`'s bars at `times` (each one of its own bar times)."""
    if len(times) == len(market):
        return market
    rows = np.searchsorted(market.time, times)
    columns = {name: getattr(market, name)[rows].copy() for name in OHLCV}
    marks = {
        name: getattr(market, name)[rows].copy() if market.has_mark else getattr(market, name)
        for name in MARK_COLUMNS
    }
    return MarketData(
        time=times.copy(),
        symbol=market.symbol,
        funding_times=market.funding_times,
        funding_rates=market.funding_rates,
        mark_filled_bars=market.mark_filled_bars,
        **columns,
        **marks,
    )


def _with(
    market: MarketData, *, other_symbols: tuple[MarketData, ...], bars_dropped: int
) -> MarketData:
    columns = {name: getattr(market, name) for name in (*OHLCV, *MARK_COLUMNS)}
    return MarketData(
        time=market.time,
        symbol=market.symbol,
        funding_times=market.funding_times,
        funding_rates=market.funding_rates,
        mark_filled_bars=market.mark_filled_bars,
        other_symbols=other_symbols,
        bars_dropped=bars_dropped,
        **columns,
    )


def _duration(ns: int) -> str:
    minutes = ns // 60_000_000_000
    if minutes and minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes and minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m" if minutes else f"{ns / 1e9:g}s"
