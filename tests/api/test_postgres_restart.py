"""A PostgreSQL restart under a running web node: the node reconnects by itself (its pool
checks each connection before use), so the requests and runs after the restart succeed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.main import create_app
from tests.api.conftest import LoopbackClient, collect
from tests.db.pg_cluster import ThrowawayCluster, started_cluster
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayCluster]:
    with started_cluster() as cluster:
        yield cluster


def test_the_web_node_reconnects_after_postgresql_restarts(
    cluster: ThrowawayCluster, data_dir: Path
) -> None:
    name, url = cluster.create_database()
    try:
        with LoopbackClient(create_app(make_settings(data_dir, database_url=url))) as client:
            strategy = client.post("/api/strategies", json={"name": "s", "code": SMA_CODE})
            assert strategy.status_code == 201, strategy.text
            assert client.get("/api/strategies").status_code == 200  # the pool holds a link
            cluster.restart()  # every pooled connection is dead now
            listed = client.get("/api/strategies")
            assert listed.status_code == 200, listed.text
            assert [s["name"] for s in listed.json()] == ["s"]
            body = {"strategy_id": strategy.json()["id"], "dataset": SAMPLE_NAME}
            run_id = client.post("/api/runs", json=body).json()["id"]
            with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
                assert collect(websocket)[-1]["type"] == "done"
            assert client.get(f"/api/runs/{run_id}").json()["status"] == "done"
    finally:
        cluster.drop_database(name)
