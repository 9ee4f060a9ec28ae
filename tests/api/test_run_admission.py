"""The per-client limit on active runs: one more than the limit is refused with 429 and a
sentence naming the count and the limit; a finished or cancelled run frees its slot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.api import admission as admission_module
from app.api.admission import RunAdmission
from app.api.errors import RunLimitReachedError
from app.db import RunStatus, crud, session_scope
from app.main import create_app
from sandbox import ForkServer
from tests.api.conftest import LoopbackClient, pools_on, wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, SLOW_CODE, make_settings, queued_run

LIMIT = 2
SLOW_RUN = {"code": SLOW_CODE, "dataset": SAMPLE_NAME, "params": {"spin": 200_000}}


@pytest.fixture
def limited(data_dir: Path, fork_server: ForkServer) -> Iterator[TestClient]:
    settings = make_settings(data_dir, max_active_runs_per_client=LIMIT, workers=1)
    with LoopbackClient(create_app(settings, worker_pool=pools_on(fork_server))) as client:
        yield client


def cancel_all(client: TestClient, run_ids: list[str]) -> None:
    for run_id in run_ids:
        client.post(f"/api/runs/{run_id}/cancel")
        wait_until_finished(client, run_id)


@pytest.mark.slow
def test_cant_queue_more_runs_than_the_limit(limited: TestClient) -> None:
    started = [limited.post("/api/runs", json=SLOW_RUN) for _ in range(LIMIT)]
    assert [r.status_code for r in started] == [201] * LIMIT
    run_ids = [r.json()["id"] for r in started]
    refused = limited.post("/api/runs", json=SLOW_RUN)
    assert refused.status_code == 429
    assert refused.json()["detail"].startswith(
        f"{LIMIT} runs are queued or running for this client; the limit is {LIMIT}"
    )
    rerun = limited.post(f"/api/runs/{run_ids[0]}/rerun")  # a rerun is one more run too
    assert rerun.status_code == 429
    assert len(limited.get("/api/runs").json()) == LIMIT  # nothing was stored for them
    limited.post(f"/api/runs/{run_ids[0]}/cancel")
    wait_until_finished(limited, run_ids[0])
    again = limited.post(f"/api/runs/{run_ids[0]}/rerun")  # the cancelled run freed its slot
    assert again.status_code == 201
    cancel_all(limited, [run_ids[1], again.json()["id"]])


@pytest.mark.slow
def test_cant_overshoot_the_limit_with_a_burst(limited: TestClient) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda _: limited.post("/api/runs", json=SLOW_RUN), range(12)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * LIMIT + [429] * (12 - LIMIT)
    cancel_all(limited, [r.json()["id"] for r in answers if r.status_code == 201])


def test_a_refused_request_holds_no_slot(limited: TestClient) -> None:
    for _ in range(LIMIT + 2):  # invalid runs are refused before anything is stored
        assert (
            limited.post("/api/runs", json={"code": "x = 1", "dataset": SAMPLE_NAME}).status_code
            == 422
        )
    admission: RunAdmission = limited.app.state.admission  # type: ignore[attr-defined]
    assert admission._reserved == {}


def test_the_ledger_counts_only_runs_still_active(limited: TestClient) -> None:
    engine = limited.app.state.engine  # type: ignore[attr-defined]
    admission = RunAdmission(limit=2)
    runs = [queued_run(SLOW_CODE) for _ in range(3)]
    with session_scope(engine) as session:
        for run in runs:
            crud.create_run(session, run=run)

    async def scenario() -> None:
        for client in ("10.0.0.1", "10.0.0.2"):  # each client has its own slots
            for run in runs[:2] if client == "10.0.0.1" else runs[2:]:
                slot = await admission.reserve(client, engine)
                slot.hold(run.id)
                admission.settle(client, slot)
        with pytest.raises(RunLimitReachedError, match="2 runs are queued or running"):
            await admission.reserve("10.0.0.1", engine)
        second = await admission.reserve("10.0.0.2", engine)  # 1 of 2 used
        admission.settle("10.0.0.2", second)  # stored nothing: the reservation goes
        with session_scope(engine) as session:
            crud.set_run_status(
                session, run_id=runs[0].id, expected=[RunStatus.QUEUED], status=RunStatus.CANCELLED
            )
        freed = await admission.reserve("10.0.0.1", engine)
        assert freed.run_id is None

    asyncio.run(scenario())


def test_cant_lose_a_run_settled_while_the_ledger_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A run that settles while another request's ledger query is in flight still counts."""

    def slow_still_active(engine: object, run_ids: set[str]) -> set[str]:
        time.sleep(0.2)  # the other request settles meanwhile
        return set(run_ids)  # every known run is still active

    monkeypatch.setattr(admission_module, "_still_active", slow_still_active)
    admission = RunAdmission(limit=2)
    engine = cast(Engine, object())

    async def scenario() -> None:
        first = await admission.reserve("10.0.0.1", engine)
        second = asyncio.create_task(admission.reserve("10.0.0.1", engine))
        await asyncio.sleep(0.05)  # the second request is now reading the ledger
        first.hold("run-1")
        admission.settle("10.0.0.1", first)
        admission.settle("10.0.0.1", await second)  # it stored nothing
        held = await admission.reserve("10.0.0.1", engine)  # run-1 + this one = the limit
        held.hold("run-2")
        admission.settle("10.0.0.1", held)
        with pytest.raises(RunLimitReachedError, match="2 runs are queued or running"):
            await admission.reserve("10.0.0.1", engine)

    asyncio.run(scenario())


def test_the_message_reads_well_for_one_run() -> None:
    error = RunLimitReachedError(active=1, limit=1)
    assert error.message.startswith("1 run is queued or running for this client; the limit is 1")
