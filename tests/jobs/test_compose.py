"""docker-compose.yml holds together: its services, its settings, and its commands, which run
here outside Docker (loopback addresses, this test's folders, SQLite for PostgreSQL)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

from app.settings import REPO_ROOT, Settings
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, write_sample
from tests.jobs.redis_server import find_redis_server, free_port

COMPOSE = REPO_ROOT / "docker-compose.yml"
BIN = Path(sys.executable).parent


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return document


def test_the_compose_file_has_the_four_services_and_only_known_settings() -> None:
    services = compose()["services"]
    assert set(services) == {"web", "worker", "postgres", "redis"}
    assert services["web"]["command"][:2] == ["strategylab", "serve"]
    assert services["worker"]["command"] == ["strategylab", "worker"]
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"  # queued runs kept
    assert "--requirepass" in redis_command
    known = {f"STRATEGYLAB_{name.upper()}" for name in Settings.model_fields} | {"DATABASE_URL"}
    for name in ("web", "worker"):
        environment = services[name]["environment"]
        assert set(environment) <= known, set(environment) - known
        assert environment["STRATEGYLAB_REDIS_URL"].startswith("redis://")
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert services["web"]["volumes"] == services["worker"]["volumes"]  # one shared store


def local_command(command: list[str], replacements: dict[str, str]) -> list[str]:
    """A compose command for this machine: `${VAR...}` and container names replaced."""
    line = []
    for part in command:
        part = re.sub(r"\$\{(\w+)[^}]*\}", lambda found: replacements[found.group(1)], part)
        line.append(replacements.get(part, part))
    if line[0] == "strategylab":
        line[0] = str(BIN / "strategylab")
    return line


@pytest.fixture
def compose_processes(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    binary = find_redis_server()
    if binary is None:
        pytest.skip("redis-server is not installed (scripts/install-redis)")
    services = compose()["services"]
    write_sample(tmp_path / "data")
    redis_port, web_port = free_port(), free_port()
    password = "compose-test-password"
    replacements = {
        "REDIS_PASSWORD": password,
        "redis-server": binary,
        "0.0.0.0": "127.0.0.1",
        "6379": str(redis_port),
        "8000": str(web_port),
        "/data": str(tmp_path),
    }
    environment = {
        **os.environ,
        "STRATEGYLAB_REDIS_URL": f"redis://:{password}@127.0.0.1:{redis_port}/0",
        "STRATEGYLAB_DATA_DIR": str(tmp_path / "data"),
        "STRATEGYLAB_RUNS_DIR": str(tmp_path / "runs"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'strategylab.db'}",
        "STRATEGYLAB_WORKERS": "1",
    }
    processes: list[subprocess.Popen[bytes]] = []
    logs = tmp_path / "logs"
    logs.mkdir()
    try:
        for name in ("redis", "web", "worker"):
            command = local_command(services[name]["command"], replacements)
            with (logs / f"{name}.log").open("wb") as log:
                processes.append(
                    subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT)
                )
            if name == "redis":
                time.sleep(0.3)
        yield f"http://127.0.0.1:{web_port}", processes
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        for path in logs.iterdir():
            sys.stderr.write(f"--- {path.name}\n{path.read_text(errors='replace')[-2000:]}\n")


@pytest.mark.slow
def test_the_compose_commands_run_a_backtest_outside_docker(
    compose_processes: tuple[str, list[subprocess.Popen[bytes]]],
) -> None:
    base_url, processes = compose_processes
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while True:
            assert all(process.poll() is None for process in processes), "a service exited"
            try:
                if client.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the web node did not start"
            time.sleep(0.2)
        created = client.post("/api/runs", json={"code": SMA_CODE, "dataset": SAMPLE_NAME})
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        while (run := client.get(f"/api/runs/{run_id}").json())["status"] in ("queued", "running"):
            assert time.monotonic() < deadline + 60, f"the run is still {run['status']}"
            time.sleep(0.2)
    assert run["status"] == "done", run
    assert run["metrics"]["trades"] > 0
