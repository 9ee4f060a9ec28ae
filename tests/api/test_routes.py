"""The HTTP API: every route, its happy path and its precise 4xx answers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE

BAD_IMPORT = "import os\n\nclass X(Strategy):\n    def on_data(self, bar):\n        pass\n"


def test_health_and_openapi_docs(client: TestClient) -> None:
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["database"] == "sqlite" and health["workers"] == 2
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/runs/{run_id}/equity" in paths and "/api/strategies/upload" in paths


def test_examples_list_the_example_files(client: TestClient) -> None:
    examples = {e["name"]: e for e in client.get("/api/examples").json()}
    sma = examples["sma_crossover"]
    assert sma["title"].startswith("SMA crossover")
    assert sma["params"] == {"fast": 10, "slow": 30, "amount": 0.1, "short_leverage": 3}
    assert "class SmaCross" in sma["code"]


def test_validate_returns_the_sandbox_diagnostics(client: TestClient) -> None:
    assert client.post("/api/validate", json={"code": SMA_CODE}).json() == {
        "ok": True,
        "diagnostics": [],
        "strategy_class": "SmaCross",
        "title": "SMA crossover: long when the fast average crosses above the slow one, short "
        "on the way down.",
        "params": [
            {"name": "fast", "kind": "int", "default": 10},
            {"name": "slow", "kind": "int", "default": 30},
            {"name": "amount", "kind": "float", "default": 0.1},
            {"name": "short_leverage", "kind": "int", "default": 3},
        ],
    }
    answer = client.post("/api/validate", json={"code": BAD_IMPORT}).json()
    assert answer["ok"] is False
    first = answer["diagnostics"][0]
    assert (first["line"], first["col"], first["severity"]) == (1, 1, "error")
    assert "os" in first["message"]


def test_validate_refuses_a_missing_field_precisely(client: TestClient) -> None:
    response = client.post("/api/validate", json={"source": "x"})
    assert response.status_code == 422
    locations = [error["loc"] for error in response.json()["detail"]]
    assert ["body", "code"] in locations and ["body", "source"] in locations


def test_every_save_keeps_the_previous_version(client: TestClient) -> None:
    created = client.post("/api/strategies", json={"name": "sma", "code": SMA_CODE})
    assert created.status_code == 201
    strategy = created.json()
    assert strategy["version"] == 1 and strategy["params"]["fast"] == 10
    changed = SMA_CODE.replace('"fast": 10', '"fast": 7')
    saved = client.put(f"/api/strategies/{strategy['id']}", json={"code": changed}).json()
    assert saved["version"] == 2 and saved["params"]["fast"] == 7
    assert [v["version"] for v in saved["versions"]] == [1, 2]
    old = client.get(f"/api/strategies/{strategy['id']}", params={"version": 1}).json()
    assert old["code"] == SMA_CODE
    listed = client.get("/api/strategies").json()
    assert [(s["id"], s["version"]) for s in listed] == [(strategy["id"], 2)]
    assert client.put(f"/api/strategies/{strategy['id']}", json={}).status_code == 422
    assert client.delete(f"/api/strategies/{strategy['id']}").status_code == 204
    assert client.get(f"/api/strategies/{strategy['id']}").status_code == 404


def test_upload_saves_a_py_file_and_refuses_others(client: TestClient) -> None:
    files = {"file": ("my_sma.py", SMA_CODE.encode(), "text/x-python")}
    uploaded = client.post("/api/strategies/upload", files=files)
    assert uploaded.status_code == 201
    assert uploaded.json()["name"] == "my_sma" and uploaded.json()["diagnostics"] == []
    bad = client.post("/api/strategies/upload", files={"file": ("x.py", BAD_IMPORT.encode())})
    assert bad.json()["diagnostics"][0]["line"] == 1
    not_py = client.post("/api/strategies/upload", files={"file": ("x.txt", b"print(1)")})
    assert not_py.status_code == 415
    binary = client.post("/api/strategies/upload", files={"file": ("x.py", b"\xff\xfe\x00")})
    assert binary.status_code == 422
    huge = client.post("/api/strategies/upload", files={"file": ("x.py", b"#" * 300_000)})
    assert huge.status_code == 413 and "limit" in huge.json()["detail"]


def test_datasets_list_the_samples(client: TestClient) -> None:
    datasets = client.get("/api/datasets").json()
    assert [d["name"] for d in datasets] == [SAMPLE_NAME]
    assert datasets[0]["rows"] == 2000 and datasets[0]["source"] == "sample"
    assert datasets[0]["first_bar"] == "2024-01-01T00:00:00Z"


def test_bad_run_requests_name_the_field_at_fault(client: TestClient) -> None:
    def error_for(body: dict[str, object]) -> tuple[int, list[object]]:
        response = client.post("/api/runs", json=body)
        return response.status_code, [e["loc"] for e in response.json()["detail"]]

    base = {"code": SMA_CODE, "dataset": SAMPLE_NAME}
    assert error_for({"dataset": SAMPLE_NAME}) == (422, [["body"]])
    assert error_for({**base, "strategy_id": 1}) == (422, [["body"]])
    assert error_for({**base, "dataset": "NOPE-1h"}) == (422, [["body", "dataset"]])
    assert error_for({**base, "params": {"nope": 1}}) == (422, [["body", "params"]])
    assert error_for({**base, "params": {"fast": "x"}}) == (422, [["body", "params"]])
    assert error_for({**base, "fees": {"maker": -1}}) == (422, [["body", "fees", "maker"]])
    assert error_for({**base, "leverage_max": 500}) == (422, [["body", "leverage_max"]])
    assert error_for({**base, "cash": 0}) == (422, [["body", "cash"]])
    assert error_for({**base, "start": "2030-01-01"}) == (422, [["body", "start"]])
    assert error_for({"strategy_id": 999, "dataset": SAMPLE_NAME}) == (
        422,
        [["body", "strategy_id"]],
    )
    rejected = client.post("/api/runs", json={**base, "code": BAD_IMPORT})
    assert rejected.status_code == 422 and rejected.json()["diagnostics"][0]["line"] == 1


def test_a_run_stores_its_results(client: TestClient) -> None:
    strategy = client.post("/api/strategies", json={"name": "s", "code": SMA_CODE}).json()
    body = {"strategy_id": strategy["id"], "dataset": SAMPLE_NAME, "fees": 0.0004,
            "params": {"fast": 5, "slow": 20}, "mode": "futures", "cash": 50_000,
            "start": "2024-01-10T00:00:00", "end": "2024-03-01T00:00:00Z"}  # fmt: skip
    created = client.post("/api/runs", json=body)
    assert created.status_code == 201 and created.json()["status"] == "queued"
    run = wait_until_finished(client, created.json()["id"])
    assert run["status"] == "done", run["error"]
    detail = client.get(f"/api/runs/{run['id']}").json()
    assert detail["strategy_version"] == 1 and detail["params"]["fast"] == 5
    assert detail["config"]["fee_taker"] == 0.0004 and detail["config"]["cash"] == 50_000
    assert detail["dataset_version"] == SAMPLE_NAME and detail["dataset_hash"].startswith("sha256")
    trades = client.get(f"/api/runs/{run['id']}/trades").json()
    assert len(trades) == detail["metrics"]["trades"] > 0
    assert trades[0]["entry_time"] >= "2024-01-10"
    assert client.get(f"/api/runs/{run['id']}/orders").json()[0]["id"] >= 1
    client.get(f"/api/runs/{run['id']}/logs", params={"limit": 5}).raise_for_status()
    equity = client.get(f"/api/runs/{run['id']}/equity", params={"max_points": 50}).json()
    assert equity["total_points"] > 1000 and len(equity["points"]) == 50
    assert equity["points"][0]["equity"] == 50_000 and equity["points"][0]["drawdown"] == 0
    candles = client.get(f"/api/runs/{run['id']}/candles", params={"max_candles": 100}).json()
    assert 50 <= len(candles["candles"]) <= 100 and candles["candle_seconds"] % 3600 == 0
    first, last = candles["candles"][0], candles["candles"][-1]
    # The traded period only (candles are epoch-aligned, so the first may start a little before).
    assert first["time"] <= equity["points"][0]["time"] < first["time"] + candles["candle_seconds"]
    assert last["time"] <= equity["points"][-1]["time"] < last["time"] + candles["candle_seconds"]
    assert all(c["low"] <= min(c["open"], c["close"]) for c in candles["candles"])
    assert [r["id"] for r in client.get("/api/runs", params={"status": "done"}).json()] == [
        run["id"]
    ]
    assert client.post(f"/api/runs/{run['id']}/cancel").status_code == 409
    assert client.delete(f"/api/runs/{run['id']}").status_code == 204
    assert client.get(f"/api/runs/{run['id']}").status_code == 404
    assert client.get(f"/api/runs/{run['id']}/trades").status_code == 404


def test_unknown_runs_are_404(client: TestClient) -> None:
    for path in ("", "/trades", "/orders", "/logs", "/equity", "/candles"):
        assert client.get(f"/api/runs/nope{path}").status_code == 404
    assert client.post("/api/runs/nope/cancel").status_code == 404
    assert client.delete("/api/runs/nope").status_code == 404
