"""POST /api/runs takes a run's checkpoint settings: stored with its config (and so in its
provenance), bounded like every option, and a finished run keeps no checkpoint."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE

STATEFUL = SMA_CODE.replace(
    '    params = {"fast": 10,', '    state = ()\n    params = {"fast": 10,', 1
)


def test_checkpoint_settings_are_stored_with_the_run(client: TestClient) -> None:
    body = {
        "code": STATEFUL,
        "dataset": SAMPLE_NAME,
        "checkpoint_every": 300,
        "keep_checkpoints": 3,
    }
    created = client.post("/api/runs", json=body)
    assert created.status_code == 201, created.text
    run = wait_until_finished(client, created.json()["id"])
    assert run["status"] == "done", run
    assert run["config"]["checkpoint_every"] == 300
    assert run["config"]["keep_checkpoints"] == 3
    assert run["provenance"]["config"]["checkpoint_every"] == 300


def test_checkpoint_settings_out_of_bounds_are_refused_by_name(client: TestClient) -> None:
    body = {"code": STATEFUL, "dataset": SAMPLE_NAME, "keep_checkpoints": 0}
    refused = client.post("/api/runs", json=body)
    assert refused.status_code == 422
    assert "keep_checkpoints" in refused.text


def test_a_sweep_refuses_checkpoint_settings(client: TestClient) -> None:
    body = {
        "code": STATEFUL,
        "dataset": SAMPLE_NAME,
        "ranges": ["fast=5:10:5"],
        "checkpoint_every": 100,
    }
    refused = client.post("/api/sweeps", json=body)
    assert refused.status_code == 422
    assert "sweep trials take no checkpoints" in refused.text
