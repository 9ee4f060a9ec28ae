"""The server survives any worker output: with hostile stand-in workers (tests/hostile_worker.py)
every run ends with a reason, and the API keeps answering 200 with clean text for everyone,
stored rows that predate the cleaning included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.db import crud, session_scope
from app.main import create_app
from sandbox import WorkerPool
from tests.api.conftest import LoopbackClient, wait_until_finished
from tests.hostile_worker import NASTY_TEXTS, hostile_worker, script
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings, queued_run


def strings(value: Any) -> list[str]:
    """Every string of a response, but the run's `code` (the user's own multi-line source)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in strings(item)]
    if isinstance(value, dict):
        return [text for k, v in value.items() if k != "code" for text in (k, *strings(v))]
    return []


def answers_cleanly(client: LoopbackClient, url: str) -> Any:
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    body = response.json()
    assert all(item.isprintable() for item in strings(body)), url
    return body


@pytest.mark.parametrize(
    "behaviour",
    ["garbage", "huge_frame", "unknown_type", "exit_mid_frame", "nasty_error", "nasty_internal"],
)
def test_cant_take_the_server_down_whatever_the_worker_sends(
    behaviour: str, data_dir: Path, tmp_path: Path
) -> None:
    def pool(size: int, **options: Any) -> WorkerPool:
        return WorkerPool(
            size, start=lambda: hostile_worker(script(behaviour), tmp_path), **options
        )

    with LoopbackClient(create_app(make_settings(data_dir), worker_pool=pool)) as client:
        created = client.post("/api/runs", json={"code": SMA_CODE, "dataset": SAMPLE_NAME})
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        run = wait_until_finished(client, run_id)
        assert run["status"] == "failed" and run["error"]["message"]
        answers_cleanly(client, f"/api/runs/{run_id}")
        answers_cleanly(client, "/api/runs")
        answers_cleanly(client, f"/api/runs/{run_id}/logs")
        assert client.post(f"/api/runs/{run_id}/cancel").status_code == 409  # it has ended
        assert client.get("/api/health").status_code == 200


def test_a_hostile_result_is_served_clean(data_dir: Path, tmp_path: Path) -> None:
    def pool(size: int, **options: Any) -> WorkerPool:
        hostile = script("nasty_result", time0=1_704_067_200_000_000_000)
        return WorkerPool(size, start=lambda: hostile_worker(hostile, tmp_path), **options)

    with LoopbackClient(create_app(make_settings(data_dir), worker_pool=pool)) as client:
        run_id = client.post("/api/runs", json={"code": SMA_CODE, "dataset": SAMPLE_NAME}).json()[
            "id"
        ]
        assert wait_until_finished(client, run_id)["status"] == "done"
        logs = answers_cleanly(client, f"/api/runs/{run_id}/logs")
        assert len(logs) == len(NASTY_TEXTS) + 1  # one log call is one line
        answers_cleanly(client, "/api/runs")


def test_runs_keep_answering_when_a_stored_row_has_unstorable_text(
    client: LoopbackClient,
) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    run = queued_run(SMA_CODE)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with engine.begin() as connection:  # a row written before text was cleaned (JSON escapes)
        connection.execute(
            text("UPDATE runs SET status = 'failed', error = :error WHERE id = :id"),
            {"error": '{"message": "\\ud800\\u001b]0;x\\u0007", "line": null}', "id": run.id},
        )
    for url in ("/api/runs", f"/api/runs/{run.id}", f"/api/runs/{run.id}/logs"):
        response = client.get(url)
        assert response.status_code == 200, (url, response.text[:300])
        for item in strings(response.json()):
            item.encode("utf-8")
