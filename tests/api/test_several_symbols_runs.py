"""POST /api/runs with `more_datasets`: a stored run over several symbols in one account runs
through the job queue, its trades and orders carry their symbol, its provenance lists every
dataset; a missing bar or a sweep over several symbols is refused before anything is stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.data import generate_ohlcv
from app.data.parquet import write_ohlcv_parquet
from app.main import create_app
from tests.api.conftest import LoopbackClient, wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, make_settings, write_sample

EXAMPLE = (
    Path(__file__).resolve().parents[2] / "strategies_examples" / "relative_strength.py"
).read_text()
ETH = "ETHUSDT-1h"
GAPPY = "GAPUSDT-1h"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("symbols")
    write_sample(data_dir, bars=800)  # TESTUSDT-1h from 2024-01-01
    eth = generate_ohlcv(bars=800, timeframe="1h", start="2024-01-01", seed=23, start_price=1_200)
    write_ohlcv_parquet(eth, data_dir / "samples" / f"{ETH}.parquet")
    write_ohlcv_parquet(eth.drop(eth.index[[10, 11]]), data_dir / "samples" / f"{GAPPY}.parquet")
    with LoopbackClient(create_app(make_settings(data_dir))) as test_client:
        yield test_client


def body(**extra: Any) -> dict[str, Any]:
    return {
        "code": EXAMPLE,
        "dataset": SAMPLE_NAME,
        "mode": "spot",
        "params": {"lookback": 24},
        **extra,
    }


def test_a_run_over_two_symbols(client: TestClient) -> None:
    response = client.post("/api/runs", json=body(more_datasets=[ETH]))
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    run = wait_until_finished(client, run_id)
    assert run["status"] == "done", run
    trades = client.get(f"/api/runs/{run_id}/trades").json()
    assert {t["symbol"] for t in trades} == {"TESTUSDT", "ETHUSDT"}
    orders = client.get(f"/api/runs/{run_id}/orders").json()
    assert {o["symbol"] for o in orders} == {"TESTUSDT", "ETHUSDT"}
    data = run["provenance"]["data"]
    assert [other["symbol"] for other in data["other_symbols"]] == ["ETHUSDT"]
    assert run["config"]["other_datasets"] == [ETH]
    primary = client.get(f"/api/runs/{run_id}/candles").json()
    assert (primary["symbol"], primary["symbols"]) == ("TESTUSDT", ["TESTUSDT", "ETHUSDT"])
    eth = client.get(f"/api/runs/{run_id}/candles", params={"symbol": "ETHUSDT"}).json()
    assert (eth["symbol"], eth["dataset"]) == ("ETHUSDT", ETH)
    assert eth["candles"][0]["open"] == pytest.approx(1_200.0)
    unknown = client.get(f"/api/runs/{run_id}/candles", params={"symbol": "SOLUSDT"})
    assert unknown.status_code == 422
    assert "the run trades TESTUSDT, ETHUSDT, not 'SOLUSDT'" in unknown.text


def test_a_run_over_one_symbol_names_its_symbol(client: TestClient) -> None:
    sma = Path(__file__).resolve().parents[2] / "strategies_examples" / "sma_crossover.py"
    response = client.post("/api/runs", json={"code": sma.read_text(), "dataset": SAMPLE_NAME})
    assert response.status_code == 201, response.text
    run_id = response.json()["id"]
    assert wait_until_finished(client, run_id)["status"] == "done"
    trades = client.get(f"/api/runs/{run_id}/trades").json()
    assert trades and {t["symbol"] for t in trades} == {"TESTUSDT"}


def test_a_missing_bar_is_refused_before_the_run_is_stored(client: TestClient) -> None:
    response = client.post("/api/runs", json=body(more_datasets=[GAPPY]))
    assert response.status_code == 422
    text = response.text
    assert "GAPUSDT has no bar at 2 of the 800 bar times" in text
    assert "missing_bars" in text


def test_common_bars_are_allowed(client: TestClient) -> None:
    code = EXAMPLE.replace('"ETHUSDT"', '"GAPUSDT"')
    response = client.post(
        "/api/runs",
        json=body(code=code, more_datasets=[GAPPY], missing_bars="common"),
    )
    assert response.status_code == 201, response.text
    run = wait_until_finished(client, response.json()["id"])
    assert run["status"] == "done", run
    assert run["provenance"]["data"]["bars_dropped"] == 2


def test_an_unknown_further_dataset_is_named(client: TestClient) -> None:
    response = client.post("/api/runs", json=body(more_datasets=["NOPE-1h"]))
    assert response.status_code == 422
    assert "there is no dataset 'NOPE-1h'" in response.text


def test_a_sweep_over_several_symbols_is_refused(client: TestClient) -> None:
    response = client.post(
        "/api/sweeps", json={**body(more_datasets=[ETH]), "ranges": ["lookback=10:20:5"]}
    )
    assert response.status_code == 422
    assert "sweeps and walk-forwards run over one symbol" in response.text
