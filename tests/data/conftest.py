"""Fixtures for dataset tests: small synthetic markets and a store in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.data.samples import generate_ohlcv
from app.data.store import DatasetStore


@pytest.fixture
def bars() -> pd.DataFrame:
    """Two days of 1m synthetic bars from 2024-01-01 00:00 UTC."""
    return generate_ohlcv(bars=2 * 1440, start="2024-01-01", seed=3)


@pytest.fixture
def store(tmp_path: Path) -> DatasetStore:
    """An empty dataset store under the test's temporary folder."""
    return DatasetStore(tmp_path / "store")
