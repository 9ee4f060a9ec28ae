"""A worker started on its own (sandbox.worker_process) costs its parent no heavy import, gets
only the worker environment and an empty read-only folder; the sandbox package's public names
still resolve when imported on first use."""

from __future__ import annotations

import ast
import importlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import sandbox
from sandbox.worker_process import PROJECT_ROOT, WORKER_ENV, start_worker_process, worker_env


def test_starting_a_worker_imports_no_numpy_pandas_or_engine() -> None:
    probe = (
        "import sys, sandbox.worker_process; "
        "print(','.join(m for m in ('numpy', 'pandas', 'app.engine', 'sandbox.supervisor') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_every_public_name_of_the_sandbox_is_the_one_its_module_defines() -> None:
    for name in sandbox.__all__:
        value = getattr(sandbox, name)
        module = importlib.import_module(sandbox._EXPORTED_FROM[name])
        assert value is getattr(module, name), name
    assert set(sandbox.__all__) <= set(dir(sandbox))


def test_a_worker_started_on_its_own_sees_only_the_worker_environment() -> None:
    os.environ["STRATEGYLAB_TEST_SECRET"] = "do-not-leak"
    try:
        probe = "import os, sys; sys.stdout.write(repr((dict(os.environ), os.getcwd())))"
        started = start_worker_process((sys.executable, "-c", probe))
        out, _ = started.process.communicate(timeout=60)
    finally:
        del os.environ["STRATEGYLAB_TEST_SECRET"]
    env, cwd = ast.literal_eval(out.decode())
    assert env == {**WORKER_ENV, "PYTHONPATH": str(PROJECT_ROOT)} == worker_env()
    assert cwd == started.workdir
    assert list(Path(cwd).iterdir()) == []
    assert stat.S_IMODE(Path(cwd).stat().st_mode) == 0o555
    started.discard()
    assert not Path(cwd).exists()
