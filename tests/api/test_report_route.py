"""GET /api/runs/{id}/report: a finished run's report in each format, from its folder."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.api.conftest import wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE


def test_a_finished_runs_report_in_every_format(client: TestClient, data_dir: Path) -> None:
    body = {"code": SMA_CODE, "dataset": SAMPLE_NAME, "mode": "futures",
            "params": {"fast": 5, "slow": 20}}  # fmt: skip
    created = client.post("/api/runs", json=body)
    assert created.status_code == 201, created.text
    run = wait_until_finished(client, created.json()["id"])
    assert run["status"] == "done", run["error"]
    page = client.get(f"/api/runs/{run['id']}/report")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-disposition"] == f'inline; filename="report-{run["id"]}.html"'
    assert "<script" not in page.text and page.text.count("<svg") == 7
    assert f"run {run['id']}" in page.text  # the server's folder path is not shown
    assert "buy and hold from dataset " + SAMPLE_NAME in page.text
    document = client.get(f"/api/runs/{run['id']}/report", params={"format": "json"}).json()
    assert document["metrics"]["trades"] == run["metrics"]["trades"]
    assert document["metrics"]["sharpe"] == run["metrics"]["sharpe"]
    saved = client.get(f"/api/runs/{run['id']}/report", params={"format": "xlsx", "download": True})
    assert saved.headers["content-disposition"].startswith("attachment;")
    assert "Metrics" in load_workbook(io.BytesIO(saved.content)).sheetnames
    markdown = client.get(f"/api/runs/{run['id']}/report", params={"format": "md"})
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert client.get(f"/api/runs/{run['id']}/report", params={"format": "pdf"}).status_code == 422
    shutil.rmtree(data_dir / "runs" / run["id"])  # the folder is gone: one sentence, 404
    gone = client.get(f"/api/runs/{run['id']}/report")
    assert gone.status_code == 404 and "are gone" in gone.json()["detail"]


def test_reports_of_unknown_runs_are_404(client: TestClient) -> None:
    answer = client.get("/api/runs/nope/report")
    assert answer.status_code == 404 and json.loads(answer.text)["detail"]
