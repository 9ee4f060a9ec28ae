"""Security headers on every answer: no page can be framed, the UI runs only its own scripts,
no Referer leaves, and nothing is sniffed; refusals and errors carry them too."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.security_headers import DOCS_POLICY, UI_POLICY
from app.main import create_app
from tests.api.conftest import LoopbackClient
from tests.jobs.fixtures import SAMPLE_NAME, make_settings

EVERY_RESPONSE = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def assert_protected(response: object, policy: str = UI_POLICY) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    for name, value in EVERY_RESPONSE.items():
        assert headers.get(name) == value, (name, response)
    csp = headers.get("content-security-policy", "")
    assert csp == policy
    assert "frame-ancestors 'none'" in csp


def test_cant_frame_or_inject_into_any_page_or_answer(client: TestClient) -> None:
    run_id = "nope"
    spec = client.app.openapi()  # type: ignore[attr-defined]
    paths = [
        path.replace("{run_id}", run_id).replace("{strategy_id}", "1")
        for path, operations in spec["paths"].items()
        if "get" in operations
    ] + ["/", "/openapi.json", "/docs", "/redoc"]
    assert "/api/runs/{run_id}/trades".replace("{run_id}", run_id) in paths
    for path in [*paths, "/static/js/main.js", "/static/favicon.svg", "/no/such/page"]:
        response = client.get(path)
        assert response.status_code < 500, (path, response.status_code)
        assert_protected(
            response, DOCS_POLICY if path.startswith(("/docs", "/redoc")) else UI_POLICY
        )


def test_the_ui_policy_allows_no_inline_script_or_eval() -> None:
    script_src = next(p for p in UI_POLICY.split("; ") if p.startswith("script-src"))
    assert script_src == "script-src 'self'"
    assert "unsafe-eval" not in UI_POLICY and "*" not in UI_POLICY
    assert "worker-src 'self' blob:" in UI_POLICY  # Monaco's workers
    assert "object-src 'none'" in UI_POLICY and "base-uri 'none'" in UI_POLICY


def test_refusals_carry_the_headers_too(tmp_path: Path) -> None:
    client = LoopbackClient(
        create_app(
            make_settings(tmp_path, request_max_bytes=128 * 1024, upload_max_bytes=32 * 1024)
        )
    )
    refusals = [
        client.get("/api/health", headers={"host": "evil.example"}),
        client.post("/api/runs/x/rerun", headers={"origin": "http://evil.example"}),
        client.post("/api/validate", json={"code": "x" * 200_000}),
        client.post("/api/validate", json={"code": 1}),
    ]
    assert [r.status_code for r in refusals] == [400, 403, 413, 422]
    for response in refusals:
        assert_protected(response)


def test_the_sign_in_refusal_and_redirect_carry_the_headers(tmp_path: Path) -> None:
    client = LoopbackClient(create_app(make_settings(tmp_path, accounts="on")))
    assert_protected(client.get("/api/runs"))  # 401 before any route
    assert_protected(client.get("/", follow_redirects=False))  # 303 to /login


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/docs/oauth2-redirect"])
def test_the_api_docs_get_their_own_policy_and_are_never_framed(tmp_path: Path, path: str) -> None:
    response = LoopbackClient(create_app(make_settings(tmp_path))).get(path)
    assert response.status_code == 200
    assert_protected(response, DOCS_POLICY)


def test_a_run_request_answer_carries_the_headers(client: TestClient) -> None:
    response = client.post("/api/runs", json={"code": "x = 1", "dataset": SAMPLE_NAME})
    assert response.status_code == 422
    assert_protected(response)
