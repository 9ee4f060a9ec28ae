"""The ccxt fetch against a local fake Binance: ranges, gap filling only, resuming, holes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.data.datasets import import_rows
from app.data.errors import FetchError
from app.data.fetch import FetchRequest, fetch_to_store, missing_ranges
from app.data.problems import ProblemCode
from app.data.samples import generate_ohlcv
from app.data.store import DatasetSpec, DatasetStore
from tests.data.fake_exchange import FakeBinance, serve

START = pd.Timestamp("2024-01-01", tz="UTC")
MINUTE = pd.Timedelta(minutes=1)


@pytest.fixture
def market() -> pd.DataFrame:
    """What the fake exchange has: 3,000 1m bars from 2024-01-01."""
    return generate_ohlcv(bars=3000, start="2024-01-01", seed=21)


def request(first_bar: int, stop_bar: int) -> FetchRequest:
    return FetchRequest(
        symbol="BTC/USDT",
        timeframe="1m",
        start=START + first_bar * MINUTE,
        end=START + stop_bar * MINUTE,
    )


def test_fetch_into_an_empty_store_pages_through_the_range(
    store: DatasetStore, market: pd.DataFrame
) -> None:
    exchange = FakeBinance(market)
    with serve(exchange) as client:
        outcome = fetch_to_store(store, client, request(0, 2400), page_limit=1000)
    assert outcome.meta is not None and str(outcome.meta.ref) == "BTCUSDT/1m@1"
    assert exchange.kline_starts == [START, START + 1000 * MINUTE, START + 2000 * MINUTE]
    assert outcome.meta.source == "ccxt:binance BTC/USDT"
    pd.testing.assert_frame_equal(store.load("BTCUSDT/1m"), market.iloc[:2400], check_freq=False)


def test_fetch_requests_only_the_bars_the_store_lacks(
    store: DatasetStore, market: pd.DataFrame
) -> None:
    held = pd.concat([market.iloc[:1000], market.iloc[1500:2000]])
    import_rows(store, held.reset_index(), DatasetSpec(symbol="BTCUSDT", timeframe="1m"))
    exchange = FakeBinance(market)
    with serve(exchange) as client:
        outcome = fetch_to_store(store, client, request(0, 2400), page_limit=1000)
    assert exchange.kline_starts == [START + 1000 * MINUTE, START + 2000 * MINUTE]
    assert outcome.meta is not None and (outcome.meta.version, outcome.meta.parent_version) == (
        2,
        1,
    )
    assert outcome.bars_received == 900 and outcome.missing_ranges == 2
    pd.testing.assert_frame_equal(store.load("BTCUSDT/1m"), market.iloc[:2400], check_freq=False)


def test_an_interrupted_fetch_resumes_after_the_pages_it_kept(
    store: DatasetStore, market: pd.DataFrame
) -> None:
    exchange = FakeBinance(market, fail_after_requests=2)
    with (
        serve(exchange) as client,
        pytest.raises(
            FetchError, match="the 1000 bars fetched so far are kept, run the same fetch to resume"
        ),
    ):
        fetch_to_store(store, client, request(0, 3000), page_limit=500)
    assert store.datasets() == []
    exchange.fail_after_requests = None
    exchange.kline_starts.clear()
    with serve(exchange) as client:
        fetch_to_store(store, client, request(0, 3000), page_limit=500)
    assert exchange.kline_starts[0] == START + 1000 * MINUTE
    pd.testing.assert_frame_equal(store.load("BTCUSDT/1m"), market, check_freq=False)
    assert not (store.root / ".staging" / "BTCUSDT-1m").exists()


def test_bars_the_exchange_never_had_are_skipped_and_reported_as_a_gap(
    store: DatasetStore, market: pd.DataFrame
) -> None:
    exchange = FakeBinance(market.drop(market.index[500:600]))
    with serve(exchange) as client:
        outcome = fetch_to_store(store, client, request(0, 1000))
    assert outcome.meta is not None and outcome.meta.rows == 900
    gaps = [p for p in outcome.meta.validation.problems if p.code is ProblemCode.GAP]
    assert [(g.count, g.first_time) for g in gaps] == [(100, START + 500 * MINUTE)]


def test_nothing_missing_means_no_request(store: DatasetStore, market: pd.DataFrame) -> None:
    import_rows(store, market.reset_index(), DatasetSpec(symbol="BTCUSDT", timeframe="1m"))
    exchange = FakeBinance(market)
    with serve(exchange) as client:
        outcome = fetch_to_store(store, client, request(0, 3000))
    assert exchange.kline_starts == [] and outcome.requests == 0
    assert outcome.meta is not None and outcome.meta.version == 1


def test_missing_ranges_are_step_aligned_half_open_runs() -> None:
    step = 60 * 10**9
    have = np.array([0, step, 4 * step, 5 * step], dtype=np.int64)
    assert missing_ranges(have, 0, 8 * step, step) == [(2 * step, 4 * step), (6 * step, 8 * step)]
    assert missing_ranges(have, 30 * 10**9, 2 * step, step) == []  # start rounds up to the next bar
