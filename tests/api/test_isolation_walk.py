"""The isolation walk: every route (enumerated from app.routes, so a new route is walked
without editing this file) and every websocket, as user B against user A's strategy, run,
sweep, trial, token and session, answers 404 and none of A's data; A's own requests reach them;
an admin sees everything."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute
from fastapi.testclient import TestClient

from app.db import RunStatus, crud, session_scope
from app.db.models import SweepRow, SweepTrialRow
from app.engine import RunConfig
from tests.api.accounts_support import accounts_client, add_user, app_engine, bearer, sign_in
from tests.api.conftest import collect
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, queued_run, write_sample

BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/strategies/{strategy_id}"): {"name": "taken over"},
    ("POST", "/api/runs/{run_id}/montecarlo"): {"method": "shuffle", "n": 10},
    ("POST", "/api/admin/users/{username}/reset-password"): {},
}
"""A valid body for each route that needs one, so that B's request is judged on ownership and
not refused earlier for its body (a new route with a body fails the walk until added here)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One server for the module (B's requests change nothing, which the walk checks)."""
    data_dir = tmp_path_factory.mktemp("walk")
    write_sample(data_dir)
    with accounts_client(data_dir) as client:
        alice, bob = add_user(client, "alice"), add_user(client, "bob")
        root = add_user(client, "root", is_admin=True)
        a_auth, b_auth = bearer(client, alice), bearer(client, bob)
        strategy = client.post(
            "/api/strategies", json={"name": "a's secret", "code": "x = 1"}, headers=a_auth
        ).json()
        token = client.post("/api/auth/tokens", json={"name": "a's"}, headers=a_auth).json()
        run_id, sweep_id = _store_run_and_sweep(client, alice)
        staged = client.post(
            "/api/datasets/uploads",
            data={"symbol": "AUSDT"},
            files={"file": ("a.csv", b"time,open,high,low,close,volume\n1,1,1,1,1,1\n")},
            headers=a_auth,
        ).json()
        yield {
            "client": client,
            "a": a_auth,
            "b": b_auth,
            "root": bearer(client, root),
            "params": {
                "strategy_id": str(strategy["id"]),
                "run_id": run_id,
                "sweep_id": sweep_id,
                "walk_id": sweep_id,
                "number": "0",
                "token_id": str(token["id"]),
                "username": "alice",
                "handle": _session_handle(client, alice),
                "upload_id": staged["id"],
            },
            "secrets": [run_id, sweep_id, "a's secret"],
        }


def _store_run_and_sweep(client: TestClient, owner: int) -> tuple[str, str]:
    """A finished run and a finished sweep with one trial, owned by `owner`."""
    run = queued_run("x = 1")
    run.status, run.owner_id = RunStatus.DONE, owner
    config = RunConfig(symbol="TESTUSDT")
    sweep = SweepRow(
        id=uuid.uuid4().hex,
        status=RunStatus.DONE,
        code="x = 1",
        code_hash="0" * 64,
        dataset=SAMPLE_NAME,
        study_name="s",
        config=config.to_dict(),
        owner_id=owner,
        spec={"ranges": ["p=1:2"], "method": "grid", "objectives": [["sharpe", "maximize"]]},
        created_at=datetime.now(UTC),
    )
    with session_scope(app_engine(client)) as session:
        crud.create_run(session, run=run)
        crud.create_sweep(session, sweep=sweep)
        crud.add_sweep_trials(
            session, sweep_id=sweep.id, trials=[SweepTrialRow(sweep_id=sweep.id, number=0)]
        )
    return run.id, sweep.id


def _session_handle(client: TestClient, user_id: int) -> str:
    sign_in(client, "alice")
    handle = str(client.get("/api/auth/sessions").json()[0]["id"])
    client.cookies.clear()
    return handle


def every_route(routes: list[Any]) -> Iterator[Any]:
    """The app's routes, those of included routers too (FastAPI keeps them per router)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            assert not route.include_context.prefix, "the walk assumes routers without prefix"
            yield from every_route(included.routes)
        else:
            yield route


def _routes(client: TestClient) -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for route in every_route(client.app.routes)  # type: ignore[attr-defined]
        if isinstance(route, APIRoute) and "{" in route.path
        for method in sorted((route.methods or set()) - {"HEAD"})
    ]


def _url(path: str, params: dict[str, str]) -> str:
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    missing = [name for name in names if name not in params]
    assert not missing, f"{path}: the walk has no value for {missing}: add one to the fixture"
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: params[m.group(1)], path)


def test_every_route_answers_404_to_another_user(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    walked = 0
    for method, path in _routes(client):
        url = _url(path, world["params"])
        body = BODIES.get((method, path))
        answer = client.request(method, url, json=body, headers=world["b"])
        assert answer.status_code == 404, f"{method} {path} answered {answer.status_code} to B"
        assert not any(secret in answer.text for secret in world["secrets"][2:]), (method, path)
        walked += 1
    assert walked >= 20
    # B's deletions and cancels changed nothing: A still has all of it
    params = world["params"]
    for path in ("/api/runs/{run_id}", "/api/strategies/{strategy_id}", "/api/sweeps/{sweep_id}"):
        assert client.get(_url(path, params), headers=world["a"]).status_code == 200


def test_the_owner_reaches_what_the_walk_refused(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    for method, path in _routes(client):
        if method != "GET" or path.startswith("/api/admin/"):
            continue
        url = _url(path, world["params"])
        mine, theirs = (client.get(url, headers=world[who]) for who in ("a", "b"))
        assert (mine.status_code, mine.text) != (theirs.status_code, theirs.text), path


def test_lists_show_another_user_nothing_and_an_admin_everything(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    for path in ("/api/runs", "/api/strategies", "/api/sweeps", "/api/auth/tokens"):
        theirs = client.get(path, headers=world["b"])
        assert theirs.status_code == 200
        assert not any(s in theirs.text for s in world["secrets"]), path
    for path in ("/api/runs", "/api/strategies", "/api/sweeps"):
        everything = client.get(path, headers=world["root"]).text
        assert any(s in everything for s in world["secrets"]), path


def test_another_users_strategy_cannot_be_run(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    body = {"strategy_id": int(world["params"]["strategy_id"]), "dataset": SAMPLE_NAME}
    search = {"method": "grid", "objectives": [{"metric": "total_return", "direction": "maximize"}]}
    for path, extra in (
        ("/api/runs", {}),
        ("/api/sweeps", {"ranges": ["p=1,2"], **search}),
        ("/api/walkforwards", {"ranges": ["p=1,2"], "folds": 2, **search}),
    ):
        answer = client.post(path, json={**body, **extra}, headers=world["b"])
        assert answer.status_code == 422 and "there is no strategy" in answer.text, path
        assert "x = 1" not in answer.text


def test_every_websocket_closes_4404_for_another_user(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    routes = every_route(client.app.routes)  # type: ignore[attr-defined]
    sockets = [r.path for r in routes if isinstance(r, APIWebSocketRoute)]
    assert len(sockets) >= 2
    for path in sockets:
        url = _url(path, world["params"])
        with client.websocket_connect(url, headers=world["b"]) as socket:
            messages = collect(socket)
        assert messages[0]["type"] == "error" and "there is no" in messages[0]["message"], path
        with client.websocket_connect(url, headers=world["a"]) as socket:
            assert collect(socket)[-1]["type"] != "error", path


def test_another_users_dataset_cannot_be_run_and_admin_lists_are_hidden(
    world: dict[str, Any],
) -> None:
    """What the route walk cannot reach by path: a dataset named in a body, and the admin
    lists without a path parameter."""
    client: TestClient = world["client"]
    rows = ["time,open,high,low,close,volume"]
    rows += [f"{3600 * hour},{100 + hour % 7},{102 + hour % 7},99,101,5" for hour in range(200)]
    staged = client.post(
        "/api/datasets/uploads",
        data={"symbol": "ASECRETUSDT"},
        files={"file": ("mine.csv", ("\n".join(rows) + "\n").encode(), "text/csv")},
        headers=world["a"],
    ).json()
    stored = client.post(f"/api/datasets/uploads/{staged['id']}/store", headers=world["a"])
    assert stored.status_code == 200, stored.text
    dataset = "ASECRETUSDT/1h"
    assert dataset in client.get("/api/datasets", headers=world["a"]).text
    assert "ASECRETUSDT" not in client.get("/api/datasets", headers=world["b"]).text
    search = {"method": "grid", "objectives": [{"metric": "total_return", "direction": "maximize"}]}
    bodies = {
        "/api/runs": {"code": SMA_CODE, "dataset": dataset},
        "/api/sweeps": {"code": SMA_CODE, "dataset": dataset, "ranges": ["fast=5,10"], **search},
        "/api/walkforwards": {
            "code": SMA_CODE, "dataset": dataset, "ranges": ["fast=5,10"], "folds": 2, **search
        },
    }  # fmt: skip
    for path, body in bodies.items():
        refused = client.post(path, json=body, headers=world["b"])
        assert refused.status_code == 422, (path, refused.text)
        assert f"there is no dataset '{dataset}'" in refused.text, path
        assert "ASECRETUSDT" not in refused.text.split("available:")[-1], path
    for path in ("/api/admin/users", "/api/admin/audit"):
        hidden = client.get(path, headers=world["b"])
        assert hidden.status_code == 404 and "alice" not in hidden.text, path
        assert client.get(path, headers=world["root"]).status_code == 200, path
