"""Request bodies: nothing over the limit is read (413 naming the limit, declared or streamed),
and a refused input is never echoed back in a 422 (which names the field instead)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.bodies import BodyLimitMiddleware
from app.main import create_app
from tests.api.conftest import LoopbackClient
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings

LIMIT = 128 * 1024
MiB = 1024 * 1024


def small_limit_client(tmp_path: Path) -> TestClient:
    settings = make_settings(tmp_path, request_max_bytes=LIMIT, upload_max_bytes=32 * 1024)
    return LoopbackClient(create_app(settings))


def asgi_call(
    app: Any, scope: dict[str, Any], chunks: Iterator[bytes]
) -> tuple[list[dict[str, Any]], int]:
    """Run one request through `app`; returns what it sent and how many chunks it read."""
    sent: list[dict[str, Any]] = []
    reads = 0

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent, reads


def http_scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


def endless_megabytes() -> Iterator[bytes]:
    while True:
        yield b"x" * MiB


def test_cant_make_the_server_read_a_declared_oversized_body(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    for path in ("/api/runs", "/api/runs/some-run/rerun", "/api/strategies/upload"):
        scope = http_scope(path, [(b"content-length", b"400000000")])
        sent, reads = asgi_call(app, scope, endless_megabytes())
        assert reads == 0, path  # refused before a byte is read (and before the route runs)
        assert sent[0]["status"] == 413
        detail = json.loads(sent[1]["body"])["detail"]
        assert "2,097,152 byte limit" in detail


def test_cant_make_the_server_read_an_endless_chunked_body() -> None:
    async def reader(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        raise AssertionError("the whole body was read")

    limited = BodyLimitMiddleware(reader, limit_bytes=3 * MiB)
    sent, reads = asgi_call(limited, http_scope("/api/runs", []), endless_megabytes())
    assert reads == 4  # 3 MiB are within the limit; the 4th MiB is the first byte over it
    assert sent[0]["status"] == 413
    assert "3,145,728 byte limit" in json.loads(sent[1]["body"])["detail"]


def test_an_understated_content_length_is_still_counted() -> None:
    async def reader(scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass

    limited = BodyLimitMiddleware(reader, limit_bytes=MiB)
    scope = http_scope("/api/runs", [(b"content-length", b"10")])
    sent, reads = asgi_call(limited, scope, endless_megabytes())
    assert sent[0]["status"] == 413 and reads == 2


@pytest.mark.parametrize("size", [LIMIT + 1, 4 * LIMIT])
def test_cant_send_an_oversized_json_body(tmp_path: Path, size: int) -> None:
    client = small_limit_client(tmp_path)
    padding = "x" * size
    for path in ("/api/runs", "/api/validate", "/api/strategies"):
        response = client.post(path, json={"code": padding, "dataset": SAMPLE_NAME})
        assert response.status_code == 413, path
        assert response.json() == {
            "detail": f"the request body is larger than the {LIMIT:,} byte limit"
        }


def test_cant_stream_an_oversized_chunked_body(tmp_path: Path) -> None:
    client = small_limit_client(tmp_path)

    def chunks() -> Iterator[bytes]:
        yield b'{"code": "'
        for _ in range(LIMIT // 1024 + 8):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/api/validate", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413 and f"{LIMIT:,}" in response.json()["detail"]


def test_cant_send_an_oversized_multipart_upload(tmp_path: Path) -> None:
    client = small_limit_client(tmp_path)
    files = {"file": ("big.py", b"#" * (LIMIT + 10))}
    response = client.post("/api/strategies/upload", files=files)
    assert response.status_code == 413 and f"{LIMIT:,}" in response.json()["detail"]


def test_a_body_within_the_limit_is_served(tmp_path: Path) -> None:
    client = small_limit_client(tmp_path)
    response = client.post("/api/validate", json={"code": SMA_CODE})
    assert response.status_code == 200 and response.json()["ok"] is True


def test_the_body_limit_must_fit_the_largest_upload(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="must be at least upload_max_bytes"):
        make_settings(tmp_path, request_max_bytes=300 * 1024, upload_max_bytes=256 * 1024)


def test_a_422_names_the_field_and_never_echoes_the_input(client: TestClient) -> None:
    huge = "y" * MiB
    for body in (
        {"code": 12345, "dataset": huge},  # wrong type next to a huge value
        {"code": SMA_CODE, "dataset": SAMPLE_NAME, "cash": huge},
        {"code": SMA_CODE, "dataset": SAMPLE_NAME, "params": {huge: 1}},
        {"code": SMA_CODE, "dataset": SAMPLE_NAME, "params": {"x": [huge]}},
        {"code": SMA_CODE, "dataset": SAMPLE_NAME, "mode": huge},
        {"code": SMA_CODE, "dataset": SAMPLE_NAME, huge: 1},
    ):
        response = client.post("/api/validate" if "cash" in body else "/api/runs", json=body)
        assert response.status_code == 422, response.text[:300]
        assert len(response.content) < 8_000, len(response.content)
        for error in response.json()["detail"]:
            assert set(error) == {"loc", "msg", "type"}
            assert error["loc"][0] == "body"


def test_a_422_points_at_the_field(tmp_path: Path) -> None:
    client = LoopbackClient(create_app(make_settings(tmp_path)))
    response = client.post("/api/validate", json={"code": 12345})
    assert response.json()["detail"] == [
        {"loc": ["body", "code"], "msg": "Input should be a valid string", "type": "string_type"}
    ]


def test_a_422_lists_a_bounded_number_of_errors(client: TestClient) -> None:
    params = {f"p{i}": [i] for i in range(200)}  # 200 bad values, several errors each
    response = client.post("/api/runs", json={"code": SMA_CODE, "dataset": "d", "params": params})
    detail = response.json()["detail"]
    assert response.status_code == 422 and len(detail) == 51
    assert detail[-1]["type"] == "too_many_errors" and "more errors" in detail[-1]["msg"]


def test_a_malformed_json_body_is_a_short_422(tmp_path: Path) -> None:
    client = LoopbackClient(create_app(make_settings(tmp_path)))
    response = client.post(
        "/api/validate", content=b"{" + b"x" * 100_000, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422 and len(response.content) < 1_000
