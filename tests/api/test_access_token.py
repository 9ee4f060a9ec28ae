"""The access token: every request but /static needs it; the browser holds it only in an
HttpOnly cookie, set by opening the printed link once, which redirects to a clean address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.access import clean_location
from app.main import create_app
from tests.api.conftest import LoopbackClient, handshake_close_code
from tests.jobs.fixtures import make_settings

TOKEN = "s3cret-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def guarded(tmp_path: Path) -> TestClient:
    """The app without its lifespan: the token decides before any route runs."""
    return LoopbackClient(create_app(make_settings(tmp_path, access_token=TOKEN)))


@pytest.fixture
def started(data_dir: Path) -> Iterator[TestClient]:
    """The app with its lifespan, for requests that reach routes using the database."""
    with LoopbackClient(create_app(make_settings(data_dir, access_token=TOKEN))) as client:
        yield client


def test_cant_use_the_api_docs_or_page_without_the_token(guarded: TestClient) -> None:
    for path in ("/api/health", "/docs", "/openapi.json", "/", "/api/runs"):
        response = guarded.get(path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert "access token" in response.json()["detail"]
    assert guarded.get("/static/js/main.js").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
        {"Cookie": "strategylab_token=wrong"},
        {"Cookie": 'strategylab_token="; other=\\'},
        {"Cookie": f"other_token={TOKEN}"},
    ],
)
def test_cant_pass_with_a_wrong_token(guarded: TestClient, headers: dict[str, str]) -> None:
    assert guarded.get("/api/health", headers=headers).status_code == 401


def test_programs_send_the_token_as_a_bearer_header(guarded: TestClient) -> None:
    assert guarded.get("/openapi.json", headers=BEARER).status_code == 200
    response = guarded.post("/api/validate", json={"code": "x = 1"}, headers=BEARER)
    assert response.status_code == 200


def test_cant_use_the_token_in_a_later_url(guarded: TestClient) -> None:
    # only the printed link (a page GET) takes ?token=, to set the cookie; it is no credential
    assert guarded.post(f"/api/validate?token={TOKEN}", json={"code": "x = 1"}).status_code == 401
    assert handshake_close_code(guarded, f"/ws/runs/x?token={TOKEN}") == 1008


def test_the_link_sets_an_httponly_cookie_and_redirects_to_a_clean_address(
    guarded: TestClient,
) -> None:
    response = guarded.get(f"/?token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    assert response.headers["cache-control"] == "no-store"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"strategylab_token={TOKEN};")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags  # plain http: a Secure cookie would never come back
    assert TOKEN not in response.text
    page = guarded.get("/")  # the cookie now travels with every request
    assert page.status_code == 200 and TOKEN not in page.text
    assert guarded.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    ("path", "query", "location"),
    [
        ("/", f"token={TOKEN}&run=abc", "/?run=abc"),
        ("/docs", f"token={TOKEN}", "/docs"),
        ("//evil.example/", f"token={TOKEN}", "/evil.example/"),
        ("/\\evil.example", f"token={TOKEN}", "/%5Cevil.example"),
        ("///evil.example", f"token={TOKEN}", "/evil.example"),
        ("/caf\u00e9 x", f"token={TOKEN}", "/caf%C3%A9%20x"),
    ],
)
def test_the_link_redirects_only_to_this_server(path: str, query: str, location: str) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": query.encode(),
        "headers": [(b"host", b"127.0.0.1:8000")],
    }
    assert clean_location(scope) == location


def test_the_link_redirect_keeps_other_parameters(guarded: TestClient) -> None:
    response = guarded.get(f"/?run=abc&token={TOKEN}", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/?run=abc"


def test_a_wrong_or_repeated_link_token_sets_nothing(guarded: TestClient) -> None:
    for link in ("/?token=wrong-token-0123456789", f"/?token={TOKEN}&token=other"):
        response = guarded.get(link, follow_redirects=False)
        assert response.status_code == 401 and "set-cookie" not in response.headers


def test_the_cookie_is_secure_over_https(data_dir: Path) -> None:
    app = create_app(make_settings(data_dir, access_token=TOKEN))
    client = TestClient(app, base_url="https://127.0.0.1:8443")
    response = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert "secure" in response.headers["set-cookie"].lower()


def test_the_websocket_and_the_api_take_the_cookie(started: TestClient) -> None:
    started.get(f"/?token={TOKEN}")
    assert started.get("/api/health").status_code == 200
    with started.websocket_connect("/ws/runs/nope") as websocket:
        assert websocket.receive_json()["type"] == "error"  # past the token: an unknown run


def test_without_a_token_set_the_link_parameter_is_ignored(client: TestClient) -> None:
    response = client.get("/?token=anything-at-all-123", follow_redirects=False)
    assert response.status_code == 200 and "set-cookie" not in response.headers
