"""POST /api/runs/{id}/montecarlo: a finished run simulated from its folder, kept as its
montecarlo.json, refused with the field named; GET returns the kept document."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from tests.api.conftest import wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE


def test_a_finished_run_is_simulated_and_the_document_kept(client: TestClient) -> None:
    body = {"code": SMA_CODE, "dataset": SAMPLE_NAME, "mode": "futures",
            "params": {"fast": 5, "slow": 20}}  # fmt: skip
    created = client.post("/api/runs", json=body)
    assert created.status_code == 201, created.text
    run = wait_until_finished(client, created.json()["id"])
    assert run["status"] == "done", run["error"]
    url = f"/api/runs/{run['id']}/montecarlo"
    assert client.get(url).status_code == 404  # nothing simulated yet
    request = {"method": "bootstrap", "n": 300, "seed": 4, "levels": [0.9, 0.5], "ruin": 0.8}
    answer = client.post(url, json=request)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert (document["method"], document["simulations"], document["seed"]) == ("bootstrap", 300, 4)
    assert document["levels"] == [0.5, 0.9]
    assert document["inputs"]["trades"] == run["metrics"]["trades"]
    assert client.get(url).json() == document
    assert client.post(url, json=request).json() == document  # seeded: the same answer


def test_bad_requests_name_the_field_and_unknown_runs_are_404(client: TestClient) -> None:
    assert client.post("/api/runs/nope/montecarlo", json={"method": "shuffle"}).status_code == 404
    refused = client.post("/api/runs/nope/montecarlo", json={"method": "shuffle", "n": 0})
    assert refused.status_code == 422 and "n" in refused.text
    refused = client.post("/api/runs/nope/montecarlo", json={"method": "jackknife"})
    assert refused.status_code == 422


def test_a_run_whose_folder_is_gone_is_404_without_server_paths(
    client: TestClient, data_dir: Path
) -> None:
    body = {"code": SMA_CODE, "dataset": SAMPLE_NAME, "mode": "futures"}
    run = wait_until_finished(client, client.post("/api/runs", json=body).json()["id"])
    assert run["status"] == "done", run["error"]
    folders = [path for path in data_dir.rglob(run["id"]) if path.is_dir()]
    assert folders
    for folder in folders:
        shutil.rmtree(folder)
    answer = client.post(f"/api/runs/{run['id']}/montecarlo", json={"method": "shuffle"})
    assert answer.status_code == 404
    assert answer.json()["detail"] == f"there is no readable result folder for run {run['id']}"
    assert str(data_dir) not in answer.text
