"""Accounts: sign-in (form and JSON), sessions in HttpOnly cookies with CSRF tokens, the
sign-in throttle, sign-out, API tokens, disabling, the loopback local user, admin routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.access import CSRF_COOKIE, SESSION_COOKIE
from app.auth.audit import list_events
from app.auth.passwords import MEMORY_COST_KIB, TIME_COST, hash_password, needs_rehash
from app.auth.sessions import SessionPolicy, is_live
from app.auth.sign_in import _DUMMY_HASH
from app.db import session_scope
from app.db.accounts import UserSessionRecord
from app.db.models import utc_now
from tests.api.accounts_support import (
    PASSWORD,
    accounts_client,
    add_user,
    app_engine,
    bearer,
    sign_in,
)
from tests.api.conftest import handshake_close_code
from tests.jobs.fixtures import write_sample


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One server for the module (starting one costs seconds); each test uses its own users."""
    data_dir = tmp_path_factory.mktemp("accounts")
    write_sample(data_dir)
    with accounts_client(data_dir) as client:
        yield client


@pytest.fixture
def server(shared_server: TestClient) -> TestClient:
    shared_server.cookies.clear()
    return shared_server


def unique(name: str) -> str:
    """A user name no other test of the module uses."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def csrf_header(client: TestClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies.get(CSRF_COOKIE) or ""}


def test_loopback_signs_in_the_local_user_automatically(client: TestClient) -> None:
    me = client.get("/api/auth/me").json()
    assert me["signed_in_by"] == "local" and me["is_admin"] and not me["accounts"]
    assert client.post("/api/strategies", json={"name": "s", "code": "x = 1"}).status_code == 201
    assert client.get("/login", follow_redirects=False).status_code == 303


def test_without_signing_in_nothing_but_the_sign_in_page_answers(server: TestClient) -> None:
    assert server.get("/api/runs").status_code == 401
    assert server.get("/api/strategies").headers["www-authenticate"] == "Bearer"
    page = server.get("/sweeps", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fsweeps"
    assert server.get("/", follow_redirects=False).headers["location"] == "/login"
    assert server.get("/login").status_code == 200
    assert server.get("/api/health").status_code == 200
    assert handshake_close_code(server, "/ws/runs/anything") == 1008
    wrong = {"Authorization": "Bearer slt_not-a-token"}
    assert "API token is unknown" in server.get("/api/runs", headers=wrong).json()["detail"]


def test_sign_in_sets_an_httponly_session_and_state_changes_need_the_csrf_token(
    server: TestClient,
) -> None:
    alice_name = unique("alice")
    add_user(server, alice_name)
    answer = sign_in(server, alice_name.upper(), next_path="/sweeps")
    assert answer.status_code == 303 and answer.headers["location"] == "/sweeps"
    cookies = answer.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http: a Secure cookie would never come back
    csrf_cookie = next(c for c in cookies if c.startswith(f"{CSRF_COOKIE}="))
    assert "HttpOnly" not in csrf_cookie and "SameSite=strict" in csrf_cookie
    me = server.get("/api/auth/me").json()
    assert me["username"] == alice_name and me["signed_in_by"] == "session"
    body = {"name": "s", "code": "x = 1"}
    refused = server.post("/api/strategies", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    wrong = server.post("/api/strategies", json=body, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    assert server.post("/api/strategies", json=body, headers=csrf_header(server)).status_code == 201


def test_the_session_cookie_is_secure_over_https(data_dir: Path) -> None:
    with accounts_client(data_dir) as server:
        add_user(server, "alice")
        server.base_url = server.base_url.copy_with(scheme="https")
        cookies = sign_in(server, "alice").headers.get_list("set-cookie")
    assert all("Secure" in c for c in cookies if c.startswith((SESSION_COOKIE, CSRF_COOKIE)))


def test_the_sign_in_form_needs_its_own_token(server: TestClient) -> None:
    alice_name = unique("alice")
    add_user(server, alice_name)
    form = {"username": alice_name, "password": PASSWORD, "csrf": "forged", "next": "/"}
    answer = server.post("/login", data=form, follow_redirects=False)
    assert answer.status_code == 403 and SESSION_COOKIE not in answer.headers.get("set-cookie", "")


def test_next_never_leaves_the_server(server: TestClient) -> None:
    alice_name = unique("alice")
    add_user(server, alice_name)
    for target in ("//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:x"):
        assert sign_in(server, alice_name, next_path=target).headers["location"] == "/"
        server.cookies.clear()


def test_wrong_passwords_are_refused_alike_then_throttled(server: TestClient) -> None:
    alice_name = unique("alice")
    add_user(server, alice_name)
    unknown = server.post("/api/auth/login", json={"username": "nobody", "password": "x" * 12})
    wrong = server.post("/api/auth/login", json={"username": alice_name, "password": "x" * 12})
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()  # which names exist is not told
    for _ in range(4):
        server.post("/api/auth/login", json={"username": alice_name, "password": "x" * 12})
    good = {"username": alice_name, "password": PASSWORD}
    throttled = server.post("/api/auth/login", json=good)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert "5 failed sign-ins in the last 15 minutes" in throttled.json()["detail"]
    with session_scope(app_engine(server)) as session:
        outcomes = [e.outcome for e in list_events(session, actor=alice_name)]
    assert outcomes.count("failed") == 5 and outcomes[0] == "throttled"


def test_sign_out_ends_the_session_for_good(server: TestClient) -> None:
    alice_name = unique("alice")
    add_user(server, alice_name)
    sign_in(server, alice_name)
    old_cookie = server.cookies.get(SESSION_COOKIE)
    assert server.post("/api/auth/logout", headers=csrf_header(server)).status_code == 204
    server.cookies.set(SESSION_COOKIE, old_cookie or "")
    assert server.get("/api/auth/me").status_code == 401


def test_api_tokens_are_shown_once_work_as_bearer_and_stop_when_revoked(server: TestClient) -> None:
    alice_name = unique("alice")
    alice = bearer(server, add_user(server, alice_name))
    issued = server.post("/api/auth/tokens", json={"name": "laptop"}, headers=alice).json()
    token = {"Authorization": f"Bearer {issued['token']}"}
    assert server.get("/api/auth/me", headers=token).json()["signed_in_by"] == "api_token"
    listed = server.get("/api/auth/tokens", headers=token).json()
    assert "token" not in listed[0] and issued["token"].startswith(listed[0]["prefix"])
    revoke = server.delete(f"/api/auth/tokens/{issued['id']}", headers=alice)
    assert revoke.status_code == 204
    assert server.get("/api/auth/me", headers=token).status_code == 401


def test_disabling_a_user_ends_their_sessions_and_tokens(server: TestClient) -> None:
    alice_name = unique("alice")
    root_name = unique("root")
    admin = bearer(server, add_user(server, root_name, is_admin=True))
    alice_token = bearer(server, add_user(server, alice_name))
    sign_in(server, alice_name)
    assert server.post(f"/api/admin/users/{alice_name}/disable", headers=admin).status_code == 200
    assert server.get("/api/auth/me").status_code == 401  # the session cookie
    assert server.get("/api/auth/me", headers=alice_token).status_code == 401
    server.cookies.clear()
    assert sign_in(server, alice_name).status_code == 401


def test_admin_routes_answer_404_to_users_and_work_for_admins(server: TestClient) -> None:
    alice_name = unique("alice")
    root_name = unique("root")
    bob_name = unique("bob")
    admin = bearer(server, add_user(server, root_name, is_admin=True))
    alice = bearer(server, add_user(server, alice_name))
    for path in ("/api/admin/users", "/api/admin/audit"):
        assert server.get(path, headers=alice).status_code == 404
    made = server.post("/api/admin/users", json={"username": bob_name}, headers=admin).json()
    assert len(made["password"]) >= 20  # generated, shown this once
    assert sign_in(server, bob_name, password=made["password"]).status_code == 303
    reset = server.post(
        f"/api/admin/users/{bob_name}/reset-password", json={}, headers=admin
    ).json()
    assert reset["password"] != made["password"]
    actions = [e["action"] for e in server.get("/api/admin/audit", headers=admin).json()]
    assert {"user_created", "password_reset", "sign_in"} <= set(actions)


def test_deletions_and_sign_ins_are_audited(server: TestClient) -> None:
    alice_name = unique("alice")
    root_name = unique("root")
    admin = bearer(server, add_user(server, root_name, is_admin=True))
    alice = bearer(server, add_user(server, alice_name))
    made = server.post("/api/strategies", json={"name": "s", "code": "x = 1"}, headers=alice)
    server.delete(f"/api/strategies/{made.json()['id']}", headers=alice)
    events = server.get("/api/admin/audit?action=deleted", headers=admin).json()
    assert (
        events[0]["actor"] == alice_name and events[0]["target"] == f"strategy {made.json()['id']}"
    )


def test_password_hashes_are_argon2id_with_enough_memory_and_passes() -> None:
    stored = hash_password("a long enough password")
    assert stored.startswith("$argon2id$")
    parameters = dict(part.split("=") for part in stored.split("$")[3].split(","))
    assert int(parameters["m"]) >= 19 * 1024 == MEMORY_COST_KIB and int(parameters["t"]) >= 2
    assert TIME_COST >= 2
    assert not needs_rehash(_DUMMY_HASH)  # unknown names cost the same work as known ones


def test_sessions_expire_when_idle_and_at_their_lifetime() -> None:
    now = utc_now()
    policy = SessionPolicy(idle_s=600, lifetime_s=3600)
    fresh = UserSessionRecord(
        id="x",
        user_id=1,
        csrf_token="t",
        created_at=now,
        expires_at=now + timedelta(hours=1),
        last_seen_at=now,
    )
    assert is_live(fresh, policy=policy, now=now + timedelta(seconds=599))
    assert not is_live(fresh, policy=policy, now=now + timedelta(seconds=601))
    fresh.last_seen_at = now + timedelta(minutes=59)
    assert not is_live(fresh, policy=policy, now=now + timedelta(minutes=61))
    fresh.revoked_at = datetime.now(UTC)
    assert not is_live(fresh, policy=policy, now=now)
