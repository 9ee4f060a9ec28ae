"""Per-user quotas: each refusal names the figure and the limit; one user's quota is not
another's; the operator sets them per user; usage is counted from the database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.auth.users import create_user
from app.cli import cli_app
from app.db import RunStatus, crud, make_engine, migrate, session_scope
from app.db.models import SweepRow
from app.engine import RunConfig
from app.jobs.quotas import (
    QuotaExceededError,
    QuotaLimits,
    check_new_sweep,
    cpu_seconds_today,
    set_limits,
)
from tests.api.accounts_support import PASSWORD, accounts_client, add_user, app_engine, bearer
from tests.api.test_sweeps import GRID, WALK
from tests.jobs.fixtures import SAMPLE_NAME, SLOW_CODE, make_settings, queued_run, write_sample

SLOW_RUN = {"code": SLOW_CODE, "dataset": SAMPLE_NAME, "params": {"spin": 200_000}}


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the refusals (each test has its own users)."""
    folder = tmp_path_factory.mktemp("quotas")
    write_sample(folder)
    with accounts_client(folder, workers=1) as client:
        yield client


def new_user(client: TestClient) -> int:
    return add_user(client, f"user{uuid.uuid4().hex[:8]}")


def set_quota(client: TestClient, user_id: int, **limits: int | float) -> None:
    with session_scope(app_engine(client)) as session:
        set_limits(session, user_id=user_id, **limits)  # type: ignore[arg-type]


def store_run(client: TestClient, owner_id: int, **values: object) -> str:
    run = queued_run(SLOW_CODE)
    run.owner_id = owner_id
    for name, value in values.items():
        setattr(run, name, value)
    with session_scope(app_engine(client)) as session:
        session.add(run)
    return run.id


def test_a_run_over_the_concurrent_quota_is_refused_with_figure_and_limit(
    app_client: TestClient,
) -> None:
    alice, bob = new_user(app_client), new_user(app_client)
    set_quota(app_client, alice, concurrent_runs=2)
    as_alice, as_bob = bearer(app_client, alice), bearer(app_client, bob)
    store_run(app_client, alice)
    store_run(app_client, alice, status=RunStatus.RUNNING)
    refused = app_client.post("/api/runs", json=SLOW_RUN, headers=as_alice)
    assert refused.status_code == 429
    assert refused.json() == {
        "detail": "2 runs are queued or running, your limit is 2: wait for one to finish or "
        "cancel one",
        "quota": "concurrent_runs",
        "used": 2,
        "limit": 2,
    }
    accepted = app_client.post("/api/runs", json=SLOW_RUN, headers=as_bob)  # bob's own quota
    assert accepted.status_code == 201, accepted.text
    app_client.post(f"/api/runs/{accepted.json()['id']}/cancel", headers=as_bob)


def test_a_burst_of_runs_cannot_pass_the_concurrent_runs_quota(app_client: TestClient) -> None:
    alice = new_user(app_client)
    set_quota(app_client, alice, concurrent_runs=3)
    as_alice = bearer(app_client, alice)

    def post() -> tuple[int, str]:
        answer = app_client.post("/api/runs", json=SLOW_RUN, headers=as_alice)
        return answer.status_code, answer.json().get("id", answer.json().get("quota", ""))

    with ThreadPoolExecutor(8) as pool:  # validated side by side, stored one at a time
        answers = list(pool.map(lambda _: post(), range(8)))
    codes = sorted(code for code, _ in answers)
    assert codes == [201] * 3 + [429] * 5, answers  # exactly the limit, whatever the order
    assert {what for code, what in answers if code == 429} == {"concurrent_runs"}
    for code, run_id in answers:
        if code == 201:
            app_client.post(f"/api/runs/{run_id}/cancel", headers=as_alice)


def test_a_run_over_the_daily_cpu_quota_is_refused(app_client: TestClient) -> None:
    alice = new_user(app_client)
    set_quota(app_client, alice, cpu_seconds_per_day=1.0)
    now = datetime.now(UTC)
    started = max(now - timedelta(seconds=30), now.replace(hour=0, minute=0, second=0))
    store_run(
        app_client, alice, status=RunStatus.DONE, started_at=started, finished_at=now
    )  # today's usage: up to 30 s, at least the time since 00:00 UTC
    refused = app_client.post("/api/runs", json=SLOW_RUN, headers=bearer(app_client, alice))
    assert refused.status_code == 429
    body = refused.json()
    assert body["quota"] == "cpu_seconds_per_day" and body["limit"] == 1.0
    assert "CPU-seconds today, your limit is 1 per day: it resets at 00:00 UTC" in body["detail"]


def test_storage_counts_the_users_run_folders(app_client: TestClient) -> None:
    alice = new_user(app_client)
    set_quota(app_client, alice, storage_mb=1)
    run_id = store_run(app_client, alice, status=RunStatus.DONE)
    runs_dir: Path = app_client.app.state.settings.runs_dir  # type: ignore[attr-defined]
    folder = runs_dir / run_id
    folder.mkdir(parents=True)
    (folder / "trades.csv").write_bytes(b"x" * (2 * 1024 * 1024))
    refused = app_client.post("/api/runs", json=SLOW_RUN, headers=bearer(app_client, alice))
    assert refused.status_code == 429
    assert refused.json()["detail"] == (
        "your run folders and datasets take 2.0 MiB, your limit is 1 MiB: delete runs or "
        "datasets you no longer need"
    )


def test_a_sweep_over_the_trial_quota_is_refused_and_nothing_is_stored(
    app_client: TestClient,
) -> None:
    alice = new_user(app_client)
    set_quota(app_client, alice, sweep_trials=5)
    as_alice = bearer(app_client, alice)
    refused = app_client.post("/api/sweeps", json=GRID, headers=as_alice)  # 6 trials
    assert refused.status_code == 429
    assert refused.json()["detail"] == (
        "this sweep has 6 trials, your limit is 5: ask for fewer trials (n_trials, a coarser "
        "grid or fewer folds)"
    )
    assert app_client.get("/api/sweeps", headers=as_alice).json() == []


def store_sweep_row(client: TestClient, owner_id: int, status: RunStatus) -> None:
    """A sweep of `owner_id` in `status`, stored without a sweep thread picking it up."""
    sweep = SweepRow(
        id=uuid.uuid4().hex,
        status=status,
        code="x = 1",
        code_hash="0" * 64,
        dataset=SAMPLE_NAME,
        study_name="s",
        config=RunConfig(symbol="TESTUSDT").to_dict(),
        owner_id=owner_id,
        spec={"ranges": ["p=1:2"], "method": "grid", "objectives": [["sharpe", "maximize"]]},
        created_at=datetime.now(UTC),
    )
    with session_scope(app_engine(client)) as session:
        crud.create_sweep(session, sweep=sweep)


def test_a_sweep_over_the_concurrent_sweeps_quota_is_refused_with_figure_and_limit(
    app_client: TestClient,
) -> None:
    alice, bob = new_user(app_client), new_user(app_client)
    set_quota(app_client, alice, concurrent_sweeps=2)
    as_alice = bearer(app_client, alice)
    for status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.DONE):  # done: not counted
        store_sweep_row(app_client, alice, status)
    message = (
        "2 sweeps are running or queued, your limit is 2 (walk-forwards count as sweeps): "
        "wait for one to finish or cancel one"
    )
    for path, body in (("/api/sweeps", GRID), ("/api/walkforwards", WALK)):
        refused = app_client.post(path, json=body, headers=as_alice)
        assert refused.status_code == 429, refused.text
        assert refused.json() == {
            "detail": message,
            "quota": "concurrent_sweeps",
            "used": 2,
            "limit": 2,
        }
    assert len(app_client.get("/api/sweeps", headers=as_alice).json()) == 3  # nothing stored
    one = replace(QuotaLimits.from_settings(make_settings(Path("unused"))), concurrent_sweeps=1)
    with session_scope(app_engine(app_client)) as session:
        check_new_sweep(session, user_id=bob, limits=one)  # alice's sweeps are not bob's
    store_sweep_row(app_client, bob, RunStatus.QUEUED)
    over = pytest.raises(QuotaExceededError, match=r"^1 sweep is running or queued, your")
    with session_scope(app_engine(app_client)) as session, over:
        check_new_sweep(session, user_id=bob, limits=one)


def test_a_burst_of_sweeps_cannot_pass_the_concurrent_sweeps_quota(
    app_client: TestClient,
) -> None:
    alice = new_user(app_client)
    set_quota(app_client, alice, concurrent_sweeps=1, sweep_trials=5)
    as_alice = bearer(app_client, alice)
    store_sweep_row(app_client, alice, RunStatus.DONE)

    def post() -> int:
        return app_client.post("/api/walkforwards", json=WALK, headers=as_alice).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(lambda _: post(), range(4)))
    assert codes.count(201) <= 1, codes  # never two at once, whatever the interleaving
    for sweep in app_client.get("/api/sweeps", headers=as_alice).json():
        if sweep["status"] in ("queued", "running"):
            app_client.post(f"/api/sweeps/{sweep['id']}/cancel", headers=as_alice)


def test_cpu_seconds_count_only_today_and_running_runs_up_to_now(tmp_path: Path) -> None:
    engine = make_engine(make_settings(tmp_path).resolved_database_url)
    migrate(engine)
    now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    spans = [  # (started, finished): seconds counted today
        (now - timedelta(hours=2), now - timedelta(minutes=30)),  # 00:00-00:30 -> 1,800
        (now - timedelta(minutes=10), None),  # running for 600 s -> 600
        (now - timedelta(days=1, hours=2), now - timedelta(days=1)),  # yesterday -> 0
    ]
    with session_scope(engine) as session:
        for started, finished in spans:
            run = queued_run(SLOW_CODE)
            run.owner_id, run.started_at, run.finished_at = 7, started, finished
            session.add(run)
    with session_scope(engine) as session:
        assert cpu_seconds_today(session, user_id=7, now=now) == 2_400.0
    engine.dispose()


def test_the_operator_sets_and_shows_a_users_quotas(data_dir: Path) -> None:
    settings = make_settings(data_dir)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    with session_scope(engine) as session:
        create_user(session, username="alice", password=PASSWORD)
    engine.dispose()
    env = {
        "STRATEGYLAB_DATA_DIR": str(data_dir),
        "STRATEGYLAB_DATABASE_URL": settings.resolved_database_url,
    }
    runner = CliRunner()
    done = runner.invoke(
        cli_app,
        ["quotas", "set", "alice", "--concurrent-runs", "3", "--concurrent-sweeps", "2"],
        env=env,
    )
    assert done.exit_code == 0, done.output
    shown = runner.invoke(cli_app, ["quotas", "show", "alice"], env=env)
    assert shown.exit_code == 0, shown.output
    lines = {line.split()[0]: line.split()[1:] for line in shown.output.splitlines()}
    assert lines["concurrent-runs"][:2] == ["3", "set"]
    assert lines["concurrent-sweeps"] == ["2", "set", "(using", "0.0)"]
    default = QuotaLimits.from_settings(settings).sweep_trials
    assert lines["sweep-trials"] == [f"{default:,}", "default"]
    refused = runner.invoke(cli_app, ["quotas", "set", "alice", "--storage-mb", "0"], env=env)
    assert refused.exit_code == 2
    assert "storage-mb must be a positive number, not 0" in refused.output
    unknown = runner.invoke(cli_app, ["quotas", "set", "nobody", "--storage-mb", "5"], env=env)
    assert unknown.exit_code == 2 and "there is no user 'nobody'" in unknown.output
