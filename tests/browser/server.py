"""The app under test: `app.main:create_app(settings)` under uvicorn in a subprocess, on a free
127.0.0.1 port, with its own data folder (the bundled samples copied in) and SQLite file."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_START_S = 90.0

# Runs the product's app factory with settings that point at the test's own folders.
SERVER_SCRIPT = """
import json
import sys
from pathlib import Path

import uvicorn

from app.api.ws import websocket_keepalive
from app.main import create_app
from app.settings import Settings

port, root, overrides = int(sys.argv[1]), Path(sys.argv[2]), json.loads(sys.argv[3])
settings = Settings(
    data_dir=root / "data",
    runs_dir=root / "runs",
    database_url=f"sqlite:///{root / 'data' / 'strategylab.db'}",
    workers=2,
    **overrides,
)
uvicorn.run(
    create_app(settings), host="127.0.0.1", port=port, log_level="warning", **websocket_keepalive()
)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, token: object = None
) -> None:
    deadline = time.monotonic() + SERVER_START_S
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start:\n{log.read_text()[-4000:]}")
        try:
            probe = urllib.request.Request(f"{url}/api/health", headers=headers)
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise RuntimeError(f"the server didn't answer /api/health in {SERVER_START_S} s")


@contextmanager
def running_server(root: Path, **settings: object) -> Iterator[str]:
    """Serves the app with a fresh data folder under `root`; yields its base URL."""
    samples = REPO_ROOT / "data" / "samples"
    if samples.is_dir():
        shutil.copytree(samples, root / "data" / "samples")
    port = free_port()
    log = root / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER_SCRIPT, str(port), str(root), json.dumps(settings)],
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log, settings.get("access_token"))
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
