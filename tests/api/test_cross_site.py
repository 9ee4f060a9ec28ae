"""Cross-site requests: a page of another site cannot change anything (403) or open a run's
websocket (close 1008), on loopback too; programs without Origin keep working."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api.conftest import BASE_URL, LoopbackClient, handshake_close_code
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings

FOREIGN_ORIGINS = [
    "http://evil.example",
    "http://evil.example:8000",
    "null",
    "https://127.0.0.1:8000",  # same host and port, other scheme
    "http://127.0.0.1:9000",  # same host, other port (another local server's page)
    "http://127.0.0.1",  # port 80 is not 8000
    "http://localhost:8000",  # another name of this machine is another origin
    "http://127.0.0.1.evil.example:8000",
    "http://127.0.0.1:8000.evil.example",
    "http://evil.example@127.0.0.1:8000",
    "http://127.0.0.1:8000/",
    "127.0.0.1:8000",
    "file://",
    "chrome-extension://abcdef",
    "",
]
STATE_CHANGING = [
    ("POST", "/api/strategies", {"json": {"name": "x", "code": SMA_CODE}}),
    ("POST", "/api/strategies/upload", {"files": {"file": ("s.py", SMA_CODE.encode())}}),
    ("PUT", "/api/strategies/1", {"json": {"name": "y"}}),
    ("DELETE", "/api/strategies/1", {}),
    ("POST", "/api/runs", {"json": {"code": SMA_CODE, "dataset": SAMPLE_NAME}}),
    ("POST", "/api/runs/some-run/rerun", {}),
    ("POST", "/api/runs/some-run/cancel", {}),
    ("DELETE", "/api/runs/some-run", {}),
    ("POST", "/api/validate", {"json": {"code": SMA_CODE}}),
    ("PATCH", "/api/strategies/1", {"json": {}}),
    ("POST", "/no/such/route", {}),
]


def bare_client(tmp_path: Path, **overrides: object) -> TestClient:
    """The app without its lifespan: enough for requests the middleware refuses."""
    return LoopbackClient(create_app(make_settings(tmp_path, **overrides)))


@pytest.mark.parametrize("origin", FOREIGN_ORIGINS)
def test_cant_change_state_from_another_origin(tmp_path: Path, origin: str) -> None:
    client = bare_client(tmp_path)
    for method, path, body in STATE_CHANGING:
        response = client.request(method, path, headers={"origin": origin}, **body)  # type: ignore[arg-type]
        assert response.status_code == 403, (method, path, origin, response.text)
        assert "refused" in response.json()["detail"]


@pytest.mark.parametrize("site", ["cross-site", "same-site", "CROSS-SITE", "bogus"])
def test_cant_change_state_when_the_browser_says_the_page_is_elsewhere(
    tmp_path: Path, site: str
) -> None:
    client = bare_client(tmp_path)
    for method, path, body in STATE_CHANGING:
        response = client.request(method, path, headers={"sec-fetch-site": site}, **body)  # type: ignore[arg-type]
        assert response.status_code == 403, (method, path, site)
        assert "Sec-Fetch-Site" in response.json()["detail"]


def test_cant_pass_with_own_origin_and_a_cross_site_fetch(tmp_path: Path) -> None:
    headers = {"origin": BASE_URL, "sec-fetch-site": "cross-site"}
    assert bare_client(tmp_path).post("/api/runs/x/rerun", headers=headers).status_code == 403


def test_cant_pass_with_two_origins(tmp_path: Path) -> None:
    client = bare_client(tmp_path)
    headers = [("origin", BASE_URL), ("origin", "http://evil.example")]
    assert client.post("/api/runs/x/cancel", headers=headers).status_code == 403


@pytest.mark.parametrize("origin", ["http://evil.example:8000", "null", "https://127.0.0.1:8000"])
def test_cant_open_a_runs_websocket_from_another_origin(tmp_path: Path, origin: str) -> None:
    assert (
        handshake_close_code(bare_client(tmp_path), "/ws/runs/x", headers={"origin": origin})
        == 1008
    )


def test_cant_open_a_runs_websocket_from_a_cross_site_page(tmp_path: Path) -> None:
    headers = {"sec-fetch-site": "cross-site"}
    assert handshake_close_code(bare_client(tmp_path), "/ws/runs/x", headers=headers) == 1008


def test_reads_from_other_sites_are_answered(tmp_path: Path) -> None:
    # a link to the UI from elsewhere must open it; another site cannot read the answer
    headers = {"origin": "http://evil.example", "sec-fetch-site": "cross-site"}
    assert bare_client(tmp_path).get("/openapi.json", headers=headers).status_code == 200


def test_own_pages_and_programs_can_change_state(client: TestClient) -> None:
    own = [
        {"origin": BASE_URL, "sec-fetch-site": "same-origin"},
        {"origin": "HTTP://127.0.0.1:8000"},
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {},  # curl, the CLI, scripts: no Origin, no Sec-Fetch-Site
    ]
    for number, headers in enumerate(own):
        body = {"name": f"s{number}", "code": SMA_CODE}
        response = client.post("/api/strategies", json=body, headers=headers)
        assert response.status_code == 201, (headers, response.text)
    upload = client.post(
        "/api/strategies/upload",
        files={"file": ("up.py", SMA_CODE.encode())},
        headers={"origin": BASE_URL},
    )
    assert upload.status_code == 201
    with client.websocket_connect("/ws/runs/nope", headers={"origin": BASE_URL}) as websocket:
        assert websocket.receive_json()["type"] == "error"  # reached the route: unknown run


def test_refused_requests_store_nothing(client: TestClient) -> None:
    foreign = {"origin": "http://evil.example:8000"}
    client.post("/api/strategies", json={"name": "x", "code": SMA_CODE}, headers=foreign)
    client.post(
        "/api/strategies/upload", files={"file": ("s.py", SMA_CODE.encode())}, headers=foreign
    )
    client.post("/api/runs", json={"code": SMA_CODE, "dataset": SAMPLE_NAME}, headers=foreign)
    assert client.get("/api/strategies").json() == []
    assert client.get("/api/runs").json() == []


def test_an_allowed_origin_may_change_state(tmp_path: Path) -> None:
    client = bare_client(tmp_path, allowed_origins="https://lab.example.com")
    headers = {"origin": "https://LAB.example.com:443", "sec-fetch-site": "cross-site"}
    response = client.post("/api/validate", json={"code": SMA_CODE}, headers=headers)
    assert response.status_code == 200, response.text
    other = client.post("/api/validate", json={"code": SMA_CODE}, headers={"origin": BASE_URL})
    assert other.status_code == 200  # the server's own origin stays allowed


@pytest.mark.parametrize("entry", ["lab.example.com", "ftp://lab.example.com", "null"])
def test_a_malformed_allowed_origin_is_refused_at_start(tmp_path: Path, entry: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        make_settings(tmp_path, allowed_origins=entry)
