"""A run's indicators, trades and orders as the results page reads them: each `self.indicator`
as lines on the candles' grid (GET /api/runs/{id}/indicators), trades with margin, leverage and
return on margin, and the "Computing indicators k / n" stage on the live stream."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.engine import MarketData
from app.engine.indicators import compute_indicator
from app.main import create_app
from app.runs.indicator_lines import INDICATORS_FILE, MAX_POINTS
from tests.api.conftest import LoopbackClient, wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, SEVERAL_INDICATORS_CODE, make_settings, write_sample


def finished_run(client: TestClient, code: str = SEVERAL_INDICATORS_CODE) -> str:
    response = client.post("/api/runs", json={"code": code, "dataset": SAMPLE_NAME})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    assert wait_until_finished(client, run_id)["status"] == "done"
    return run_id


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, Path]]:
    """One app and one finished run shared by the tests that read it (a run costs seconds)."""
    data_dir = tmp_path_factory.mktemp("indicators")
    write_sample(data_dir)
    with LoopbackClient(create_app(make_settings(data_dir))) as test_client:
        yield test_client, finished_run(test_client), data_dir


@pytest.fixture
def client(served: tuple[TestClient, str, Path]) -> TestClient:
    return served[0]


@pytest.fixture
def run_id(served: tuple[TestClient, str, Path]) -> str:
    return served[1]


@pytest.fixture
def data_dir(served: tuple[TestClient, str, Path]) -> Path:
    return served[2]


@contextlib.contextmanager
def edited(path: Path) -> Iterator[Path]:
    """`path` may be changed or removed inside; its bytes come back after."""
    kept = path.read_bytes()
    try:
        yield path
    finally:
        path.write_bytes(kept)


def sample_market(client: TestClient) -> MarketData:
    catalog = client.app.state.catalog  # type: ignore[attr-defined]
    market: MarketData = catalog.load_market(catalog.resolve(SAMPLE_NAME))
    return market


def by_label(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {indicator["label"]: indicator for indicator in body["indicators"]}


def test_each_declared_indicator_is_offered_with_its_lines_placed(
    client: TestClient, run_id: str
) -> None:
    body = client.get(f"/api/runs/{run_id}/indicators").json()
    assert body["is_available"] is True
    indicators = by_label(body)
    assert list(indicators) == [  # declaration order
        "SMA(length=10)",
        "EMA(length=30)",
        "RSI(length=14)",
        "BBANDS(length=20)",
        "SMA(length=5) @4h",
    ]
    placements = {
        label: {line["column"]: line["placement"] for line in indicator["lines"]}
        for label, indicator in indicators.items()
    }
    assert placements["SMA(length=10)"] == {"SMA_10": "price"}
    assert placements["RSI(length=14)"] == {"RSI_14": "pane"}
    bands = placements["BBANDS(length=20)"]
    assert {bands[c] for c in bands if c[:3] in ("BBL", "BBM", "BBU")} == {"price"}
    assert {bands[c] for c in bands if c[:3] in ("BBB", "BBP")} == {"pane"}  # width and %B
    assert placements["SMA(length=5) @4h"] == {"SMA_5": "price"}


def test_the_points_fall_on_the_candles_and_equal_the_indicator_at_each_candles_close(
    client: TestClient, run_id: str
) -> None:
    candles = client.get(f"/api/runs/{run_id}/candles").json()
    candle_times = [candle["time"] for candle in candles["candles"]]
    body = client.get(f"/api/runs/{run_id}/indicators").json()
    assert body["bucket_seconds"] == candles["candle_seconds"]
    market = sample_market(client)
    (sma,) = by_label(body)["SMA(length=10)"]["lines"]
    times = by_label(body)["SMA(length=10)"]["time"]
    assert times == candle_times  # the sample's 2,000 bars: one point per bar
    expected = compute_indicator(market.to_frame(), "sma", {"length": 10})["SMA_10"]
    first = int(np.searchsorted(market.time // 1_000_000_000, times[0]))
    for k in (0, 8, 9, 500, len(times) - 1):
        value = expected[first + k]
        if np.isnan(value):
            assert sma["values"][k] is None  # before its 10th bar: no value yet
        else:
            assert sma["values"][k] == pytest.approx(value, rel=1e-7)
    assert sma["values"][8] is None and sma["values"][9] is not None


@pytest.mark.slow
def test_lines_are_thinned_to_the_candles_of_a_long_run(tmp_path: Path) -> None:
    data_dir = tmp_path
    write_sample(data_dir, bars=9_000)  # 9,000 hours: candles of 5 bars (1,800 of them)
    with LoopbackClient(create_app(make_settings(data_dir))) as client:
        run_id = finished_run(client)
        candles = client.get(f"/api/runs/{run_id}/candles").json()
        body = client.get(f"/api/runs/{run_id}/indicators").json()
        market = sample_market(client)
    assert candles["candle_seconds"] == body["bucket_seconds"] == 5 * 3600
    times = by_label(body)["EMA(length=30)"]["time"]
    assert len(times) <= MAX_POINTS and times == [c["time"] for c in candles["candles"]]
    ema = compute_indicator(market.to_frame(), "ema", {"length": 30})["EMA_30"]
    (line,) = by_label(body)["EMA(length=30)"]["lines"]
    # each point is the value at its candle's last bar (the candle's close)
    seconds = market.time // 1_000_000_000
    for k in (10, 900, len(times) - 1):
        last_bar = int(np.searchsorted(seconds, times[k] + 5 * 3600)) - 1
        assert line["values"][k] == pytest.approx(ema[last_bar], rel=1e-7)


def test_a_run_without_indicators_file_says_so_and_an_unknown_run_is_404(
    client: TestClient, run_id: str, data_dir: Path
) -> None:
    with edited(data_dir / "runs" / run_id / INDICATORS_FILE) as path:
        path.unlink()  # as a run stored before indicators were kept
        body = client.get(f"/api/runs/{run_id}/indicators").json()
    assert body == {"run_id": run_id, "is_available": False, "bucket_seconds": 0, "indicators": []}
    assert client.get("/api/runs/nope/indicators").status_code == 404


def test_trades_carry_margin_leverage_and_return_on_margin(client: TestClient, run_id: str) -> None:
    trades = client.get(f"/api/runs/{run_id}/trades").json()
    assert len(trades) >= 4
    for trade in trades:
        assert trade["leverage"] == pytest.approx(4.0)
        assert trade["margin"] == pytest.approx(trade["size"] * trade["entry_price"] / 4)
        assert trade["return_on_margin"] == pytest.approx(trade["pnl"] / trade["margin"])
    page = client.get(f"/api/runs/{run_id}/trades?offset=2&limit=2").json()
    assert [t["margin"] for t in page] == [t["margin"] for t in trades[2:4]]


def test_trades_of_a_run_stored_before_margins_were_kept_have_none(
    client: TestClient, run_id: str, data_dir: Path
) -> None:
    with edited(data_dir / "runs" / run_id / "trades.csv") as path:
        lines = path.read_text().splitlines()
        path.write_text("".join(",".join(line.split(",")[:9]) + "\n" for line in lines))
        trades = client.get(f"/api/runs/{run_id}/trades").json()
    assert {(t["margin"], t["leverage"], t["return_on_margin"]) for t in trades} == {
        (None, None, None)
    }


def test_filled_close_position_orders_show_what_they_closed(
    client: TestClient, run_id: str
) -> None:
    orders = client.get(f"/api/runs/{run_id}/orders").json()
    filled = [o for o in orders if o["status"] == "filled"]
    assert filled and all(o["amount"] == o["filled_amount"] > 0 for o in filled)
    halves = [o for o in filled if o["filled_amount"] == pytest.approx(0.25)]
    assert halves  # close_position(50) of a 0.5 position


def test_the_live_stream_says_computing_indicators_k_of_n(client: TestClient) -> None:
    hub = client.app.state.hub  # type: ignore[attr-defined]
    published: list[dict[str, Any]] = []
    forward = hub.publish_progress

    def record(run: str, message: dict[str, Any]) -> None:
        published.append(dict(message))
        forward(run, message)

    hub.publish_progress = record  # every message the runner publishes, before coalescing
    response = client.post(
        "/api/runs", json={"code": SEVERAL_INDICATORS_CODE, "dataset": SAMPLE_NAME}
    )
    run_id = response.json()["id"]
    streamed: list[dict[str, Any]] = []
    with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
        while not streamed or streamed[-1]["type"] not in ("done", "error"):
            streamed.append(websocket.receive_json())  # the viewer closes once it has the outcome
    counts = [
        (m["indicators_done"], m["indicators_total"])
        for m in published
        if m["stage"] == "indicators"
    ]
    assert counts == [(0, 5), (1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    # what a viewer is sent is a coalesced subset of those, with the counts
    for message in streamed:
        if message["type"] == "progress" and message["stage"] == "indicators":
            assert (message["indicators_done"], message["indicators_total"]) in counts
    assert streamed[-1]["type"] == "done"
