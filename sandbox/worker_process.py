"""How a sandbox worker process is started on its own: its command, environment and folder.

Standard library only, so a command line can start its run's worker before it imports numpy,
pandas or the engine (app/cli.py): the worker's ~1.5 s of imports then overlap the parent's
own instead of following them. `sandbox.supervisor.WarmWorker` adopts the process later.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
WORKER_ENV: Final = {
    "PATH": "/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "JE_ARROW_MALLOC_CONF": "background_thread:false",
    "ARROW_DEFAULT_MEMORY_POOL": "system",  # see sandbox.memory_watch.use_system_allocator
}
"""The whole environment of a worker: nothing of the parent's (secrets, database URLs)."""
WORKER_COMMAND: Final = (sys.executable, "-s", "-m", "sandbox.worker")


def worker_env() -> dict[str, str]:
    """The environment of every worker process, started on its own or by a fork server."""
    return {**WORKER_ENV, "PYTHONPATH": str(PROJECT_ROOT)}


@dataclass(frozen=True, slots=True)
class StartedWorker:
    """A worker process started on its own, waiting for its job on stdin, and its working
    directory (empty, read-only); the supervisor removes the folder when the worker ends."""

    process: subprocess.Popen[bytes]
    workdir: str

    def discard(self) -> None:
        """Kill a worker that will get no job and remove its folder (it would exit by itself
        once this process closes its stdin; this does not wait for that)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


def read_only_workdir() -> str:
    """A new empty folder the worker may not write to: its working directory."""
    workdir = tempfile.mkdtemp(prefix="strategylab-worker-")
    Path(workdir).chmod(0o555)
    return workdir


def start_worker_process(command: tuple[str, ...] = WORKER_COMMAND) -> StartedWorker:
    """Start a worker now: a new interpreter in its own session and an empty read-only
    folder, with pipes for the protocol and stderr and only WORKER_ENV for environment."""
    workdir = read_only_workdir()
    try:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,
            env=worker_env(),
            close_fds=True,
            start_new_session=True,
        )
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return StartedWorker(process, workdir)


__all__ = [
    "PROJECT_ROOT",
    "WORKER_COMMAND",
    "WORKER_ENV",
    "StartedWorker",
    "read_only_workdir",
    "start_worker_process",
    "worker_env",
]
