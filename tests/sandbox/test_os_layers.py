"""The OS layers on their own: a child locks itself down like a worker, then tries to escape.

This is the last line of defence, tested without validation or guards in front of it: the
probe is ordinary Python running inside the locked-down process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sandbox.supervisor import PROJECT_ROOT, WORKER_ENV

PROBE = textwrap.dedent(
    """
    import json, os, socket, sys, threading
    from sandbox.limits import RunLimits
    from sandbox.worker import lock_down
    target, parent, project_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    out = os.fdopen(os.dup(1), "w")
    layers = lock_down(RunLimits(cpu_seconds=5, memory_mb=256))
    def attempt(action):
        try:
            action()
        except BaseException as error:
            return type(error).__name__
        return "ALLOWED"
    def write_file():
        with open(target, "w") as handle:
            handle.write("escaped")
    def read_secret():
        with open("/etc/passwd") as handle:
            handle.read()
    def read_project_file():
        with open(project_file) as handle:
            handle.read()
    def thread():
        threading.Thread(target=print).start()
    def exec_shell():
        os.execv("/bin/sh", ["sh", "-c", "true"])
    def connect():
        socket.create_connection(("127.0.0.1", 22), timeout=1)
    def big():
        bytearray(512 * 1024 * 1024)
    results = {
        "write_file": attempt(write_file),
        "read_outside": attempt(read_secret),
        "read_project_root": attempt(read_project_file),
        "fork": attempt(os.fork),
        "thread": attempt(thread),
        "exec": attempt(exec_shell),
        "socket": attempt(socket.socket),
        "connect": attempt(connect),
        "signal_parent": attempt(lambda: os.kill(parent, 0)),
        "memory": attempt(big),
        "layers": layers,
    }
    out.write(json.dumps(results))
    out.flush()
    """
)


@pytest.fixture(scope="module")
def escape_attempts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("host") / "escaped.txt"
    env = {**WORKER_ENV, "PYTHONPATH": str(PROJECT_ROOT)}
    completed = subprocess.run(
        [
            sys.executable,
            "-s",
            "-c",
            PROBE,
            str(target),
            str(os.getpid()),
            str(PROJECT_ROOT / "pyproject.toml"),
        ],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
        cwd="/",
    )
    assert completed.returncode == 0, completed.stderr.decode()[-2000:]
    results: dict[str, Any] = json.loads(completed.stdout)
    results["file_exists"] = Path(target).exists()
    return results


def test_cant_write_files(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["write_file"] != "ALLOWED"
    assert not escape_attempts["file_exists"]


def test_cant_read_files_outside_the_python_installation(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["read_outside"] == "PermissionError"


def test_cant_read_the_project_root_where_data_and_settings_live(
    escape_attempts: dict[str, Any],
) -> None:
    assert escape_attempts["read_project_root"] == "PermissionError"


def test_cant_fork(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["fork"] == "PermissionError"


def test_cant_start_threads(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["thread"] == "RuntimeError"


def test_cant_exec_programs(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["exec"] == "PermissionError"


def test_cant_open_sockets(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["socket"] == "PermissionError"
    assert escape_attempts["connect"] == "PermissionError"


def test_cant_signal_the_parent(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["signal_parent"] == "PermissionError"


def test_cant_exceed_the_memory_limit(escape_attempts: dict[str, Any]) -> None:
    assert escape_attempts["memory"] == "MemoryError"


def test_every_layer_reports_active_on_this_machine(escape_attempts: dict[str, Any]) -> None:
    layers = escape_attempts["layers"]
    assert set(layers) == {
        "allocator",
        "network",
        "rlimits",
        "privileges",
        "no_new_privs",
        "landlock",
        "seccomp",
    }
    inactive = {name: status for name, status in layers.items() if not status.startswith("active")}
    if inactive and sys.platform == "linux" and os.geteuid() == 0:
        pytest.fail(f"layers inactive on this machine: {inactive}")
