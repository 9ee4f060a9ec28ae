"""Every example strategy runs through the sandbox unchanged, with the same result as in-process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine import (
    MarketData,
    RunConfig,
    Strategy,
    align_symbols,
    crossover,
    crossunder,
    run_backtest,
)
from sandbox import run_sandboxed, validate_source

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "strategies_examples").glob("*.py"))
SECOND_SYMBOL = {"relative_strength": "ETHUSDT"}
"""Examples that trade a second symbol beside the market's, and its name."""


def market_for(path: Path, market: MarketData) -> MarketData:
    """`market`, with a second symbol on its bar times for an example that trades two (its
    bars: `market`'s scaled by a slow wave, so the two symbols take turns leading)."""
    other = SECOND_SYMBOL.get(path.stem)
    if other is None:
        return market
    factor = 0.05 * (1 + 0.2 * np.sin(np.arange(len(market)) / 97))
    second = MarketData(
        time=market.time.copy(),
        open=market.open * factor,
        high=market.high * factor,
        low=market.low * factor,
        close=market.close * factor,
        volume=market.volume.copy(),
        symbol=other,
    )
    return align_symbols([market, second])


def plain_class(source: str) -> type[Strategy]:
    """The example compiled by plain Python (the engine's own in-process path)."""
    namespace: dict[str, Any] = {
        "Strategy": Strategy,
        "crossover": crossover,
        "crossunder": crossunder,
        "__name__": "example",
    }
    exec(compile(source, "example.py", "exec"), namespace)
    classes = [
        v
        for v in namespace.values()
        if isinstance(v, type) and issubclass(v, Strategy) and v is not Strategy
    ]
    return classes[-1]


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_passes_validation(path: Path) -> None:
    assert validate_source(path.read_text(), path.name) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_gives_the_same_result_sandboxed(path: Path, long_market: MarketData) -> None:
    source = path.read_text()
    config = RunConfig()
    market = market_for(path, long_market)
    direct = run_backtest(plain_class(source), market, config)
    sandboxed = run_sandboxed(source, market, config, filename=path.name)
    assert sandboxed.trades == direct.trades
    assert sandboxed.orders == direct.orders
    assert sandboxed.logs == direct.logs
    np.testing.assert_array_equal(sandboxed.equity.equity, direct.equity.equity)
    assert sandboxed.metrics.keys() == direct.metrics.keys()
