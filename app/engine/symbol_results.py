"""The per-symbol part of a run over several symbols' results: each symbol's trades, net PnL,
fees, funding and liquidations beside the account's figures (app.engine.metrics).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from app.engine.record_tables import RecordTable
from app.engine.types import Trade


class SymbolTotals(NamedTuple):
    """What one symbol's portfolio paid over the run (quote units): the engine's own tallies,
    which the trades alone cannot give (funding is settled against the margin, not a trade)."""

    symbol: str
    fees_paid: float
    funding_paid: float
    liquidations: int


class SymbolSummary(NamedTuple):
    """One symbol's figures in a run over several: closed trades (partial closes count each),
    their net PnL (after fees, before funding), the fees and funding its portfolio paid, its
    liquidations and winning trades."""

    symbol: str
    trades: int
    net_pnl: float
    fees_paid: float
    funding_paid: float
    liquidations: int
    winning_trades: int


def summarize_symbols(
    trades: Sequence[Trade], totals: Sequence[SymbolTotals]
) -> tuple[SymbolSummary, ...]:
    """Each symbol's summary, in the order of `totals` (the primary first); `trades` a table
    (RecordTable) or any sequence of trades. The net PnL is the exact sum (`math.fsum`)."""
    summaries: list[SymbolSummary] = []
    table = RecordTable.from_records(Trade, trades)
    pnls = table.values("pnl")
    for total in totals:
        own = pnls[table.matches("symbol", total.symbol)]
        summaries.append(
            SymbolSummary(
                symbol=total.symbol,
                trades=len(own),
                net_pnl=math.fsum(own.tolist()),
                fees_paid=total.fees_paid,
                funding_paid=total.funding_paid,
                liquidations=total.liquidations,
                winning_trades=int(np.count_nonzero(own > 0)),
            )
        )
    return tuple(summaries)
