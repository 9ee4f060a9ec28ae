"""The Host allow-list: a request addressed to a name the server does not answer to is refused
(400, websocket close 1008), which is what stops DNS rebinding; every spelling of an allowed
name is the same name."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.types import Message

from app.api.hosts import AllowedHostsMiddleware
from app.hostnames import parse_host, parse_host_pattern
from app.main import create_app, serving_settings
from app.settings import Settings
from tests.api.conftest import handshake_close_code
from tests.jobs.fixtures import make_settings

REFUSED_HOSTS = [
    "evil.example",
    "evil.example:8000",
    "localhost.evil.example:8000",
    "127.0.0.1.nip.io:8000",
    "localhost.localdomain:8000",
    "sub.localhost:8000",
    "127.0.0.2:8000",
    "[::2]:8000",
    "[::ffff:127.0.0.1]:8000",
    "2130706433:8000",  # 127.0.0.1 as one decimal number: not the name as written
    "localhost:8000@evil.example",
    "localhost:8000 evil.example",
    "localhost:99999",
    "localhost:0",
    "localhost:",
    "localhost:8000:8000",
    "[::1",
    "localhost/path",
    "",
]
ALLOWED_HOSTS = [
    "127.0.0.1:8000",
    "127.0.0.1",
    "localhost:8000",
    "LOCALHOST:8000",
    "LocalHost",
    "localhost.:8000",
    "[::1]:8000",
    "[0:0:0:0:0:0:0:1]:8000",
    "[::1]",
    "localhost:9000",  # an SSH tunnel or a port mapping: the name is what matters
]


def app_for(tmp_path: Path, **overrides: object) -> TestClient:
    """The app without its lifespan: enough for requests the middleware decides."""
    return TestClient(create_app(make_settings(tmp_path, **overrides)))


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_cant_reach_the_api_through_a_name_it_does_not_answer_to(tmp_path: Path, host: str) -> None:
    client = app_for(tmp_path)
    for method, path in (("GET", "/api/health"), ("GET", "/"), ("POST", "/api/runs/x/rerun")):
        response = client.request(method, path, headers={"host": host})
        assert response.status_code == 400, (host, path, response.text)
        assert "Host" in response.json()["detail"] or "answer to" in response.json()["detail"]


@pytest.mark.parametrize("host", ALLOWED_HOSTS)
def test_every_spelling_of_a_loopback_name_is_served(tmp_path: Path, host: str) -> None:
    response = app_for(tmp_path).get("/openapi.json", headers={"host": host})
    assert response.status_code == 200, (host, response.text)


def test_cant_open_the_websocket_through_a_rebound_name(tmp_path: Path) -> None:
    client = app_for(tmp_path)
    assert handshake_close_code(client, "/ws/runs/x", headers={"host": "evil.example:8000"}) == 1008


def test_the_refusal_names_the_host_and_the_setting(tmp_path: Path) -> None:
    response = app_for(tmp_path).get("/api/health", headers={"host": "Evil.Example.:8000"})
    detail = response.json()["detail"]
    assert "'evil.example:8000'" in detail and "STRATEGYLAB_ALLOWED_HOSTS" in detail
    assert response.headers["content-type"] == "application/json"


def test_a_huge_host_is_not_echoed_whole(tmp_path: Path) -> None:
    response = app_for(tmp_path).get("/api/health", headers={"host": "a" * 5000})
    assert response.status_code == 400 and len(response.text) < 1000


def scope_with(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/", "scheme": "http", "headers": headers}


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(b"host", b"localhost:8000"), (b"host", b"evil.example")],
        [(b"host", b"evil.example"), (b"host", b"localhost:8000")],
        [(b"host", b"localhost:8000"), (b"host", b"localhost:8000")],
    ],
    ids=["missing", "two-allowed-first", "two-allowed-last", "two-same"],
)
def test_cant_slip_past_with_a_missing_or_repeated_host(headers: list[tuple[bytes, bytes]]) -> None:
    reached: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(True)

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    middleware = AllowedHostsMiddleware(app, allowed=("localhost",))
    asyncio.run(middleware(scope_with(headers), receive, send))
    assert not reached and sent[0]["status"] == 400


def test_configured_names_replace_the_defaults_and_can_pin_a_port(tmp_path: Path) -> None:
    client = app_for(tmp_path, allowed_hosts="lab.example.com:8443, *.corp.example, [::1]")
    for host in ("lab.example.com:8443", "LAB.example.com.:8443", "a.corp.example", "[::1]:1"):
        assert client.get("/openapi.json", headers={"host": host}).status_code == 200, host
    for host in ("lab.example.com:8000", "lab.example.com", "corp.example", "localhost:8000"):
        assert client.get("/openapi.json", headers={"host": host}).status_code == 400, host
    # no port written on an https request means 443
    https = TestClient(client.app, base_url="https://lab.example.com")
    assert https.get("/openapi.json").status_code == 400
    pinned = TestClient(
        create_app(make_settings(tmp_path, allowed_hosts="lab.example.com:443")),
        base_url="https://lab.example.com",
    )
    assert pinned.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "entry", ["*", "http://lab.example.com", "lab.example.com/", "a b", "*.[::1]", "x:99999", "*a"]
)
def test_a_malformed_allowed_host_is_refused_at_start(entry: str) -> None:
    with pytest.raises(ValidationError, match=r"host name|wildcard"):
        Settings(allowed_hosts=entry)  # type: ignore[arg-type]


def test_allowed_hosts_are_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRATEGYLAB_ALLOWED_HOSTS", "Lab.Example.com., 10.0.0.5:8000,,")
    assert Settings().allowed_hosts == ("lab.example.com", "10.0.0.5:8000")


def test_a_specific_bind_address_is_allowed_with_the_loopback_names() -> None:
    assert Settings(host="10.0.0.5").trusted_hosts == (
        "localhost",
        "127.0.0.1",
        "[::1]",
        "10.0.0.5",
    )
    assert Settings(host="::1").trusted_hosts == ("localhost", "127.0.0.1", "[::1]")
    assert Settings(host="0.0.0.0").trusted_hosts == ("localhost", "127.0.0.1", "[::1]")


def test_binding_every_address_allows_the_machines_own_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "Lab-Box")
    monkeypatch.setattr("socket.getfqdn", lambda: "lab-box.lan")
    settings = serving_settings(Settings(), host="0.0.0.0", port=None, workers=None)
    assert "lab-box" in settings.trusted_hosts and "lab-box.lan" in settings.trusted_hosts
    assert "localhost" in settings.trusted_hosts
    kept = serving_settings(
        Settings(allowed_hosts="lab.example.com"),  # type: ignore[arg-type]  # as the env has it
        host="0.0.0.0",
        port=None,
        workers=None,
    )
    assert kept.trusted_hosts == ("lab.example.com",)


@pytest.mark.parametrize(
    ("text", "normal"),
    [
        ("LOCALHOST.:8000", "localhost:8000"),
        ("[0:0::1]:80", "[::1]:80"),
        ("Lab.Example.COM", "lab.example.com"),
        ("127.0.0.1:65535", "127.0.0.1:65535"),
    ],
)
def test_host_spellings_reduce_to_one_normal_form(text: str, normal: str) -> None:
    assert str(parse_host(text)) == normal
    assert str(parse_host_pattern(text)) == normal
