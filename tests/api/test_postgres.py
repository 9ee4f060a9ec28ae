"""The whole app on PostgreSQL: a run goes from queued to done with its results stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.main import create_app
from tests.api.conftest import LoopbackClient, collect
from tests.db.pg_cluster import ThrowawayCluster, started_cluster
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    with started_cluster() as cluster:
        yield cluster


def test_a_run_on_postgresql(cluster: ThrowawayCluster, data_dir: Path) -> None:
    name, url = cluster.create_database()
    try:
        with LoopbackClient(create_app(make_settings(data_dir, database_url=url))) as client:
            assert client.get("/api/health").json()["database"] == "postgresql"
            strategy = client.post("/api/strategies", json={"name": "s", "code": SMA_CODE}).json()
            body = {"strategy_id": strategy["id"], "dataset": SAMPLE_NAME}
            run_id = client.post("/api/runs", json=body).json()["id"]
            with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
                messages = collect(websocket)
                assert messages[-1]["type"] == "done", messages[-1]
            run = client.get(f"/api/runs/{run_id}").json()
            trades = client.get(f"/api/runs/{run_id}/trades").json()
            assert run["status"] == "done" and len(trades) == run["metrics"]["trades"]
            assert client.get(f"/api/runs/{run_id}/equity").json()["total_points"] == 2000
    finally:
        cluster.drop_database(name)
