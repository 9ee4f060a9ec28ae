"""The sweep service: POST/GET /api/sweeps, trials, websocket progress, cancel, restart resume,
refusals, and a trial opened as a normal run with the same metrics."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import RunStatus, make_engine, session_scope
from app.db.models import SweepRow
from app.jobs.sweeps import storage_url_of, study_name_of
from app.main import create_app
from app.research.study import storage_at
from sandbox import ForkServer
from tests.api.conftest import (
    LoopbackClient,
    collect,
    poll_pauses,
    pools_on,
    wait_until_finished,
)
from tests.api.test_crash_restart import LOOPBACK, free_port, start_server
from tests.jobs.fixtures import SAMPLE_NAME, SLOW_CODE, SMA_CODE, make_settings, write_sample

SWEEP_FINISHED = ("done", "failed", "cancelled")
GRID = {
    "code": SMA_CODE,
    "dataset": SAMPLE_NAME,
    "ranges": [{"name": "fast", "low": 5, "high": 15, "step": 5}, "slow=30,40"],
    "method": "grid",
    "objectives": [{"metric": "total_return", "direction": "maximize"}],
}  # 3 x 2 = 6 trials


@pytest.fixture(scope="module")
def shared_client(
    tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer
) -> Iterator[TestClient]:
    """One app for the tests that store nothing (refusals, 404s)."""
    folder = tmp_path_factory.mktemp("sweep-refusals")
    write_sample(folder)
    with LoopbackClient(
        create_app(make_settings(folder), worker_pool=pools_on(fork_server))
    ) as client:
        yield client


def start_sweep(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post("/api/sweeps", json=body)
    assert response.status_code == 201, response.text
    sweep_id: str = response.json()["id"]
    return sweep_id


def wait_for_sweep(client: TestClient, sweep_id: str, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    for pause in poll_pauses(longest_s=0.25):
        sweep: dict[str, Any] = client.get(f"/api/sweeps/{sweep_id}").json()
        if sweep["status"] in SWEEP_FINISHED:
            return sweep
        if time.monotonic() >= deadline:
            break
        time.sleep(pause)
    raise TimeoutError(sweep_id)


def trials_of(client: TestClient, sweep_id: str) -> list[dict[str, Any]]:
    page = client.get(f"/api/sweeps/{sweep_id}/trials", params={"limit": 10_000}).json()
    trials: list[dict[str, Any]] = page["trials"]
    assert page["total"] == len(trials)
    return trials


@pytest.mark.slow
def test_a_grid_sweep_streams_every_trial_and_ends_with_the_best(client: TestClient) -> None:
    response = client.post("/api/sweeps", json=GRID)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "queued" and created["trials_total"] == 6
    with client.websocket_connect(f"/ws/sweeps/{created['id']}") as websocket:
        messages = collect(websocket)
    sweep = wait_for_sweep(client, created["id"])
    assert sweep["status"] == "done", sweep
    assert sweep["trials_done"] == 6 and sweep["trials_total"] == 6
    trials = trials_of(client, created["id"])
    assert [t["number"] for t in trials] == list(range(6))
    page = client.get(f"/api/sweeps/{created['id']}/trials", params={"limit": 2, "offset": 3})
    assert page.json()["total"] == 6 and page.json()["offset"] == 3
    assert [t["number"] for t in page.json()["trials"]] == [3, 4]
    grid = {(t["params"]["fast"], t["params"]["slow"]) for t in trials}
    assert grid == {(f, s) for f in (5, 10, 15) for s in (30, 40)}
    assert all(t["params"]["amount"] == 0.1 for t in trials)  # defaults kept
    # The websocket showed each trial once, then the outcome with the best trial.
    streamed = [m for m in messages if m["type"] == "trial"]
    assert sorted(m["number"] for m in streamed) == list(range(6))
    assert messages[-1]["type"] == "done"
    best = max(trials, key=lambda t: (t["metrics"]["total_return"], -t["number"]))
    assert messages[-1]["best"][0]["number"] == best["number"]
    assert sweep["best"][0]["number"] == best["number"]
    progress = [m for m in messages if m["type"] == "progress"]
    assert progress[-1]["trials_done"] == 6
    assert {"trials_per_s", "eta_s", "best", "trials_total"} <= set(progress[-1])
    assert client.get("/api/sweeps").json()[0]["id"] == created["id"]
    detail = client.get(f"/api/sweeps/{created['id']}").json()
    assert detail["ranges"] == ["fast=5:15:5", "slow=30,40"]
    assert detail["statistics"] is not None and "meaning" in detail["statistics"]

    # Opening the best trial as a run gives a normal run with the very same metrics.
    opened = client.post(f"/api/sweeps/{created['id']}/trials/{best['number']}/run")
    assert opened.status_code == 201, opened.text
    run = wait_until_finished(client, opened.json()["id"])
    assert run["status"] == "done"
    numbers = {k: v for k, v in best["metrics"].items() if not isinstance(v, str)}
    assert numbers and {k: run["metrics"][k] for k in numbers} == numbers  # exactly equal
    assert client.get(f"/api/runs/{run['id']}").json()["params"] == best["params"]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"ranges": ["fats=5:15"]}, "ranges", "did you mean 'fast'"),
        ({"ranges": [{"name": "fast", "low": 20, "high": 5}]}, "ranges", "empty"),
        ({"ranges": [{"name": "fast", "low": 5.5, "high": 9}]}, "ranges", "whole numbers"),
        ({"ranges": [{"name": "fast"}]}, "ranges", "low and high"),
        ({"method": "tpe"}, "trials", "trials"),
        ({"objectives": [{"metric": "sharp"}]}, "objectives", "not a metric"),
        ({"ranges": ["amount=0.1..0.5"]}, "method", "step"),
        (
            {"objectives": [{"metric": "sharpe"}, {"metric": "max_drawdown"}]},
            "objectives",
            "nsga2",
        ),
        ({"dataset": "NOPE-1h"}, "dataset", "NOPE"),
    ],
)
def test_bad_requests_are_one_sentence_on_the_field(
    shared_client: TestClient, change: dict[str, Any], field: str, words: str
) -> None:
    response = shared_client.post("/api/sweeps", json={**GRID, **change})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail[0]["loc"] == ["body", field], detail
    assert words in detail[0]["msg"]
    assert shared_client.get("/api/sweeps").json() == []  # nothing stored


def test_unknown_sweeps_and_trials_are_404(shared_client: TestClient) -> None:
    client = shared_client
    assert client.get("/api/sweeps/nope").status_code == 404
    assert client.get("/api/sweeps/nope/trials").status_code == 404
    assert client.post("/api/sweeps/nope/cancel").status_code == 404
    assert client.post("/api/sweeps/nope/trials/0/run").status_code == 404
    assert client.delete("/api/sweeps/nope").status_code == 404


SLOW_GRID = {
    **GRID,
    "code": SLOW_CODE.replace('"spin": 3000', '"spin": 3000, "tag": 1'),
    "ranges": ["tag=1:40"],
    "params": {"spin": 300},  # ~0.3 s a trial alone: slow enough to land mid-sweep
    "objectives": [{"metric": "total_return"}],
}  # 40 slow trials: a cancel or a restart lands mid-sweep (trials are told 8 at a time)


def wait_for_trials(client: TestClient, sweep_id: str, at_least: int) -> None:
    deadline = time.monotonic() + 120
    pauses = poll_pauses()
    while client.get(f"/api/sweeps/{sweep_id}").json()["trials_done"] < at_least:
        assert time.monotonic() < deadline, "the sweep made no progress"
        time.sleep(next(pauses))


@pytest.mark.slow
def test_cancel_stops_the_sweep_and_keeps_the_finished_trials(client: TestClient) -> None:
    sweep_id = start_sweep(client, SLOW_GRID)
    wait_for_trials(client, sweep_id, 1)
    cancelled = client.post(f"/api/sweeps/{sweep_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    sweep = wait_for_sweep(client, sweep_id)
    assert sweep["status"] == "cancelled"
    kept = trials_of(client, sweep_id)
    assert 1 <= len(kept) < 40 and sweep["trials_done"] == len(kept)
    assert client.post(f"/api/sweeps/{sweep_id}/cancel").status_code == 409
    with client.websocket_connect(f"/ws/sweeps/{sweep_id}") as websocket:
        messages = collect(websocket)
    assert messages[-1] == {
        "type": "error",
        "status": "cancelled",
        "message": "the sweep was cancelled; the trials it finished are kept",
    }


def study_names(client: TestClient) -> list[str]:
    """The Optuna studies in the app's database."""
    with storage_at(storage_url_of(client.app.state.engine)) as storage:  # type: ignore[attr-defined]
        return [study.study_name for study in storage.get_all_studies()]


@pytest.mark.slow
def test_delete_removes_the_sweep_its_trials_and_its_study(client: TestClient) -> None:
    sweep_id = start_sweep(client, GRID)
    assert wait_for_sweep(client, sweep_id)["status"] == "done"
    opened = client.post(f"/api/sweeps/{sweep_id}/trials/0/run")
    assert opened.status_code == 201, opened.text
    assert study_name_of(sweep_id) in study_names(client)
    assert client.delete(f"/api/sweeps/{sweep_id}").status_code == 204
    assert client.get(f"/api/sweeps/{sweep_id}").status_code == 404
    assert client.get(f"/api/sweeps/{sweep_id}/trials").status_code == 404
    assert study_name_of(sweep_id) not in study_names(client)
    assert client.delete(f"/api/sweeps/{sweep_id}").status_code == 404
    run_id = opened.json()["id"]  # a run opened from a trial is a run of its own: it stays
    assert wait_until_finished(client, run_id)["status"] == "done"


@pytest.mark.slow
def test_delete_cancels_a_running_sweep_first(client: TestClient) -> None:
    sweep_id = start_sweep(client, SLOW_GRID)
    wait_for_trials(client, sweep_id, 1)
    assert client.delete(f"/api/sweeps/{sweep_id}").status_code == 204
    assert client.get(f"/api/sweeps/{sweep_id}").status_code == 404
    assert client.get("/api/sweeps").json() == []
    assert study_name_of(sweep_id) not in study_names(client)


def test_a_queued_sweep_cancels_at_once(data_dir: Path, fork_server: ForkServer) -> None:
    app = create_app(make_settings(data_dir), worker_pool=pools_on(fork_server))
    with LoopbackClient(app) as client:
        first = start_sweep(client, SLOW_GRID)
        second = start_sweep(client, SLOW_GRID)  # waits: one sweep at a time
        assert client.post(f"/api/sweeps/{second}/cancel").json()["status"] == "cancelled"
        assert client.get(f"/api/sweeps/{second}/trials").json()["total"] == 0
        client.post(f"/api/sweeps/{first}/cancel")


@pytest.mark.slow
def test_a_restart_resumes_the_sweep_without_repeating_or_losing_a_trial(
    data_dir: Path, fork_server: ForkServer
) -> None:
    settings = make_settings(data_dir)
    with LoopbackClient(create_app(settings, worker_pool=pools_on(fork_server))) as client:
        sweep_id = start_sweep(client, {**SLOW_GRID, "ranges": ["tag=1:16"]})
        wait_for_trials(client, sweep_id, 8)
    # The server stopped mid-sweep: the sweep waits, queued, with what it had finished.
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:
        paused = session.get(SweepRow, sweep_id)
        assert paused is not None and paused.status is RunStatus.QUEUED
        done_before = paused.trials_done
    engine.dispose()
    assert 8 <= done_before < 16
    with LoopbackClient(create_app(settings, worker_pool=pools_on(fork_server))) as client:
        sweep = wait_for_sweep(client, sweep_id)
        assert sweep["status"] == "done" and sweep["trials_done"] == 16
        trials = trials_of(client, sweep_id)
    assert [t["number"] for t in trials] == list(range(16))
    assert sorted(t["params"]["tag"] for t in trials) == list(range(1, 17))


@pytest.mark.slow
def test_a_sweep_left_running_by_a_crash_is_resumed_not_left_running(
    data_dir: Path, fork_server: ForkServer
) -> None:
    settings = make_settings(data_dir)
    with LoopbackClient(create_app(settings, worker_pool=pools_on(fork_server))) as client:
        sweep_id = start_sweep(client, {**GRID, "ranges": ["fast=5:10:5", "slow=30"]})
        wait_for_sweep(client, sweep_id)
    engine = make_engine(settings.resolved_database_url)
    with session_scope(engine) as session:  # what a kill -9 mid-sweep leaves
        row = session.get(SweepRow, sweep_id)
        assert row is not None
        row.status = RunStatus.RUNNING
        session.add(row)
    engine.dispose()
    with LoopbackClient(create_app(settings, worker_pool=pools_on(fork_server))) as client:
        sweep = wait_for_sweep(client, sweep_id)
        assert sweep["status"] == "done" and sweep["trials_done"] == 2
        assert [t["number"] for t in trials_of(client, sweep_id)] == [0, 1]


@pytest.mark.slow
def test_a_server_killed_mid_sweep_resumes_it_without_repeating_or_losing_a_trial(
    data_dir: Path,
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port)
    try:
        body = {**SLOW_GRID, "ranges": ["tag=1:12"]}
        created = LOOPBACK.post(f"{base}/api/sweeps", json=body, timeout=30)
        assert created.status_code == 201, created.text
        sweep_id = created.json()["id"]
        deadline = time.monotonic() + 120
        while LOOPBACK.get(f"{base}/api/sweeps/{sweep_id}").json()["trials_done"] < 1:
            assert time.monotonic() < deadline, "the sweep made no progress"
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGKILL)  # kill -9: nothing is stopped cleanly
        server.wait(10)
    server = start_server(data_dir, port)
    try:
        deadline = time.monotonic() + 240
        while (sweep := LOOPBACK.get(f"{base}/api/sweeps/{sweep_id}").json())["status"] not in (
            SWEEP_FINISHED
        ):
            assert time.monotonic() < deadline, "the resumed sweep did not finish"
            time.sleep(0.2)
        assert sweep["status"] == "done" and sweep["trials_done"] == 12
        trials = LOOPBACK.get(f"{base}/api/sweeps/{sweep_id}/trials").json()["trials"]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    assert [t["number"] for t in trials] == list(range(12))
    assert sorted(t["params"]["tag"] for t in trials) == list(range(1, 13))  # each point once


@pytest.mark.slow
def test_a_saved_strategy_sweep_opens_its_trials_even_after_the_strategy_is_deleted(
    client: TestClient,
) -> None:
    saved = client.post("/api/strategies", json={"name": "sma", "code": SMA_CODE}).json()
    body = {key: value for key, value in GRID.items() if key != "code"}
    sweep_id = start_sweep(
        client, {**body, "strategy_id": saved["id"], "ranges": ["fast=5,10", "slow=30"]}
    )
    sweep = wait_for_sweep(client, sweep_id)
    assert sweep["status"] == "done" and sweep["strategy_id"] == saved["id"]
    assert client.delete(f"/api/strategies/{saved['id']}").status_code == 204
    opened = client.post(f"/api/sweeps/{sweep_id}/trials/1/run")
    assert opened.status_code == 201, opened.text
    run = wait_until_finished(client, opened.json()["id"])
    assert run["status"] == "done"
    trial = trials_of(client, sweep_id)[1]
    assert run["metrics"]["total_return"] == trial["metrics"]["total_return"]


WALK = {
    **GRID,
    "ranges": ["fast=5,10", "slow=30"],
    "folds": 2,
    "train_ratio": 0.75,
}  # 2000 1h bars: two folds of a 2-trial grid each


@pytest.mark.slow
def test_a_walkforward_reports_fold_k_of_n_and_its_document(client: TestClient) -> None:
    created = client.post("/api/walkforwards", json=WALK)
    assert created.status_code == 201, created.text
    walk_id = created.json()["id"]
    assert created.json()["trials_total"] == 2  # folds
    with client.websocket_connect(f"/ws/sweeps/{walk_id}") as websocket:
        messages = collect(websocket)
    folds_seen = {(m["fold"], m["folds_total"]) for m in messages if "fold" in m}
    assert folds_seen == {(1, 2), (2, 2)}
    assert any(m.get("phase") == "optimize" and m.get("trials_total") == 2 for m in messages)
    assert messages[-1]["type"] == "done"
    walk = client.get(f"/api/walkforwards/{walk_id}").json()
    assert walk["status"] == "done" and walk["kind"] == "walkforward"
    assert walk["walk"]["folds"] == 2
    document = walk["statistics"]
    assert [row["fold"] for row in document["folds"]] == [1, 2]
    assert "overall" in document["efficiency"]
    assert client.get("/api/sweeps?status=done").json()[0]["kind"] == "walkforward"
    prefix = f"{study_name_of(walk_id)}-fold"
    assert sum(name.startswith(prefix) for name in study_names(client)) == 2
    assert client.delete(f"/api/sweeps/{walk_id}").status_code == 204
    assert not [name for name in study_names(client) if name.startswith(prefix)]
    assert client.get(f"/api/walkforwards/{walk_id}").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"folds": None, "train": "900d", "test": "60d"}, "train"),
        ({"folds": None}, "train"),
        ({"train": "60d", "test": "10d"}, "folds"),
    ],
)
def test_walkforward_refusals_name_the_field(
    shared_client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = shared_client.post("/api/walkforwards", json={**WALK, **change})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field], response.text
    assert shared_client.get("/api/sweeps").json() == []


def test_a_sweep_is_not_a_walkforward(shared_client: TestClient) -> None:
    assert shared_client.get("/api/walkforwards/nope").status_code == 404
