"""Helpers for the account tests: an app that requires sign-in, users made straight in its
database, sign-in through the form, and API tokens."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.api.routes.auth import LOGIN_CSRF_COOKIE
from app.auth.api_tokens import issue_token
from app.auth.users import create_user
from app.db import make_engine, session_scope
from app.main import create_app
from tests.api.conftest import LoopbackClient
from tests.jobs.fixtures import make_settings

PASSWORD = "correct horse battery"


def accounts_client(data_dir: Path, **overrides: Any) -> TestClient:
    """A client of an app that requires accounts on loopback (STRATEGYLAB_ACCOUNTS=on)."""
    settings = make_settings(data_dir, accounts="on", **overrides)
    return LoopbackClient(create_app(settings))


def app_engine(client: TestClient) -> Engine:
    """The started app's own engine (unconfined)."""
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def add_user(client: TestClient, name: str, *, is_admin: bool = False) -> int:
    """A user with PASSWORD; returns its id."""
    with session_scope(app_engine(client)) as session:
        user = create_user(session, username=name, password=PASSWORD, is_admin=is_admin)
        assert user.id is not None
        return user.id


def bearer(client: TestClient, user_id: int) -> dict[str, str]:
    """The Authorization header of a fresh API token of `user_id`."""
    with session_scope(app_engine(client)) as session:
        token = issue_token(session, user_id=user_id, name="tests").token
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next_path: str = "/") -> Any:
    """Submit the sign-in form as a browser does (GET the form, POST it with its token)."""
    page = client.get("/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None and client.cookies.get(LOGIN_CSRF_COOKIE)
    form = {"username": name, "password": password, "csrf": found.group(1), "next": next_path}
    return client.post("/login", data=form, follow_redirects=False)


def separate_engine(data_dir: Path) -> Engine:
    """Another engine on the test database (as a second process would have)."""
    return make_engine(f"sqlite:///{data_dir / 'test.db'}")
