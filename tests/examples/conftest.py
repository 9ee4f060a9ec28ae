"""Shared market data for the example-strategy tests: one synthetic BTCUSDT-like hour series."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.data import generate_ohlcv

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "strategies_examples"


@pytest.fixture(scope="session")
def hourly_frame() -> pd.DataFrame:
    """About five months of 1h bars; the same every time (seeded)."""
    return generate_ohlcv(bars=3_600, timeframe="1h", seed=11)
