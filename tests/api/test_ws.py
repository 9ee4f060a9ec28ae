"""WS /ws/runs/{id}: late joiners, many viewers, cancel, strategy errors, server restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.db import RunStatus, crud, make_engine, session_scope
from app.main import create_app
from sandbox import ForkServer
from tests.api.conftest import (
    LoopbackClient,
    collect,
    pools_on,
    wait_until_finished,
    wait_until_running,
)
from tests.jobs.fixtures import FAILING_CODE, SAMPLE_NAME, SLOW_CODE, SMA_CODE, make_settings


def start_run(client: TestClient, code: str) -> str:
    response = client.post("/api/runs", json={"code": code, "dataset": SAMPLE_NAME})
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


def types(messages: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for m in messages]


def test_a_viewer_sees_progress_reach_100_then_done(client: TestClient) -> None:
    run_id = start_run(client, SMA_CODE)
    with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
        messages = collect(websocket)
    assert messages[0]["type"] == "progress"
    assert messages[-1]["type"] == "done" and messages[-1]["metrics"]["trades"] > 0
    progress = [m for m in messages if m["type"] == "progress"]
    assert progress[-1]["pct"] == 100.0 and progress[-1]["bars_done"] == 2000
    assert set(progress[-1]) >= {"pct", "bars_done", "bars_total", "bars_per_s", "eta_s", "equity"}


def test_a_late_joiner_gets_the_state_first_then_the_stream(client: TestClient) -> None:
    run_id = start_run(client, SLOW_CODE)
    wait_until_running(client, run_id)
    with client.websocket_connect(f"/ws/runs/{run_id}") as first:
        while first.receive_json().get("bars_done", 0) < 200:
            pass
        with client.websocket_connect(f"/ws/runs/{run_id}") as late:
            snapshot = [late.receive_json(), late.receive_json()]
            assert snapshot[0]["type"] == "progress" and snapshot[0]["bars_done"] >= 200
            assert snapshot[1]["type"] == "equity" and len(snapshot[1]["points"]) >= 2
            rest = collect(late)
        collect(first)
    assert rest[-1]["type"] == "done"
    assert [m for m in rest if m["type"] == "log"]  # the strategy's own lines
    after = client.websocket_connect(f"/ws/runs/{run_id}")  # after the end: from the database
    with after as websocket:
        stored = collect(websocket)
    assert types(stored)[:2] == ["progress", "equity"] and stored[-1]["type"] == "done"
    assert stored[0]["pct"] == 100.0 and len(stored[1]["points"]) == 2000


def test_log_lines_stream_while_the_run_goes(client: TestClient) -> None:
    run_id = start_run(client, SLOW_CODE)
    wait_until_running(client, run_id)
    with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
        messages = collect(websocket)
    kinds = types(messages)
    first_log = kinds.index("log")
    assert "progress" in kinds[first_log + 1 :]  # a log line arrived before the run ended
    lines = [m["message"] for m in messages if m["type"] == "log"]
    assert lines == sorted(set(lines), key=lambda line: int(line.split()[1]))  # no repeats
    assert all(line.startswith("bar ") for line in lines)


def test_two_viewers_get_the_same_outcome(client: TestClient) -> None:
    run_id = start_run(client, SMA_CODE)
    with (
        client.websocket_connect(f"/ws/runs/{run_id}") as one,
        client.websocket_connect(f"/ws/runs/{run_id}") as two,
    ):
        first, second = collect(one), collect(two)
    assert first[-1] == second[-1] and first[-1]["type"] == "done"


def test_cancel_ends_the_stream_with_a_cancelled_error(client: TestClient) -> None:
    run_id = start_run(client, SLOW_CODE)
    wait_until_running(client, run_id)
    with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
        websocket.receive_json()
        cancelled = client.post(f"/api/runs/{run_id}/cancel")
        messages = collect(websocket)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert messages[-1] == {
        "type": "error",
        "message": "the run was cancelled",
        "line": None,
        "status": "cancelled",
    }


def test_a_queued_run_can_be_cancelled_before_it_starts(client: TestClient) -> None:
    busy = [start_run(client, SLOW_CODE) for _ in range(2)]  # both workers taken
    waiting = start_run(client, SMA_CODE)
    assert client.post(f"/api/runs/{waiting}/cancel").json()["status"] == "cancelled"
    with client.websocket_connect(f"/ws/runs/{waiting}") as websocket:
        assert collect(websocket)[-1]["status"] == "cancelled"
    for run_id in busy:
        client.post(f"/api/runs/{run_id}/cancel")


def test_a_strategy_error_reports_its_message_and_line(client: TestClient) -> None:
    run_id = start_run(client, FAILING_CODE)
    with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
        messages = collect(websocket)
    error = messages[-1]
    assert error["type"] == "error" and error["line"] == 5 and error["status"] == "failed"
    assert "ValueError" in error["message"] and "boom at bar 51" in error["message"]
    run = client.get(f"/api/runs/{run_id}").json()
    assert run["error"]["line"] == 5 and run["error_details"]["bar_index"] == 51


def test_an_unknown_run_is_an_error_message(client: TestClient) -> None:
    with client.websocket_connect("/ws/runs/nope") as websocket:
        messages = collect(websocket)
    assert messages == [{"type": "error", "message": "there is no run nope", "line": None}]


def test_a_server_restart_never_leaves_a_run_running(
    data_dir: Path, fork_server: ForkServer
) -> None:
    settings = make_settings(data_dir)
    with LoopbackClient(create_app(settings, worker_pool=pools_on(fork_server))) as client:
        stopped = start_run(client, SLOW_CODE)
        wait_until_running(client, stopped)
    # a crash leaves a row "running" with no worker behind it: fake one
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        crashed = crud.get_run(session, run_id=stopped)
        crashed_id = f"{stopped[:-4]}dead"
        session.add(
            type(crashed)(**{**crashed.model_dump(), "id": crashed_id, "status": RunStatus.RUNNING})
        )
    engine.dispose()
    with LoopbackClient(create_app(settings, worker_pool=pools_on(fork_server))) as client:
        for run_id in (stopped, crashed_id):
            run = client.get(f"/api/runs/{run_id}").json()
            assert run["status"] == "failed" and run["error"]["kind"] == "interrupted"
            with client.websocket_connect(f"/ws/runs/{run_id}") as websocket:
                last = collect(websocket)[-1]
            assert last["type"] == "error" and "interrupted" in last["message"]
        again = client.post(f"/api/runs/{stopped}/rerun")
        assert again.status_code == 201
        rerun = again.json()["id"]
        assert client.get(f"/api/runs/{rerun}").json()["code"] == SLOW_CODE
        client.post(f"/api/runs/{rerun}/cancel")
        assert wait_until_finished(client, rerun)["status"] == "cancelled"
