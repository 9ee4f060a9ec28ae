"""GET /api/health reports the package version read once per process, not once per request."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.api.routes import health
from app.runs.record import package_version


def test_health_reports_the_installed_version(client: TestClient) -> None:
    assert client.get("/api/health").json()["version"] == package_version()


def test_health_does_not_read_package_metadata_per_request(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail() -> str:
        raise AssertionError("package metadata read during a request")

    monkeypatch.setattr(health, "package_version", fail)
    for _ in range(3):
        assert client.get("/api/health").json()["version"] == health.VERSION
