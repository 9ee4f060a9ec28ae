"""Shared fixtures: small hand-written markets for worked examples."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

from app.engine import MarketData

OhlcRow = tuple[float, float, float, float]
MarketBuilder = Callable[..., MarketData]


def build_market(
    rows: Sequence[float] | Sequence[OhlcRow],
    *,
    start: str = "2024-01-01",
    freq: str = "1h",
    funding: pd.Series | None = None,
    volume: float = 1.0,
) -> MarketData:
    """A market from closes (each bar flat: open = high = low = close) or (o, h, l, c) rows.

    Bars open at `start` (UTC) and every `freq` after it; `funding` is an optional rate series.
    """
    ohlc = np.array(
        [row if isinstance(row, tuple) else (row, row, row, row) for row in rows],
        dtype=np.float64,
    )
    index = pd.date_range(start, periods=len(ohlc), freq=freq, tz="UTC", name="time")
    frame = pd.DataFrame(ohlc, columns=["open", "high", "low", "close"], index=index)
    frame["volume"] = volume
    return MarketData.from_frame(frame, funding=funding)


@pytest.fixture
def make_market() -> MarketBuilder:
    """`build_market(rows, start=..., freq=..., funding=...)` as a fixture."""
    return build_market
