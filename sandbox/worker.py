"""The sandbox worker process: reads one job, locks itself down, runs the strategy, reports back.

Started by the supervisor as `python -s -m sandbox.worker` with the protocol on stdin/stdout.
Heavy modules are imported before the lock-down so that no file needs opening afterwards.
"""

from __future__ import annotations

import os
import statistics  # noqa: F401  (imported before the lock-down: the facade needs it)
import sys
import typing
from collections.abc import Callable
from types import TracebackType
from typing import Any, BinaryIO, Final

import pandas_ta  # noqa: F401  (imported before the lock-down: indicators need it)
from numba.core import caching

from app.engine import EngineError, Progress, Strategy, StrategyRuntimeError, run_backtest
from sandbox import codec, limits
from sandbox.compile import compile_strategy
from sandbox.errors import ProtocolError, StrategyRejected
from sandbox.protocol import PARENT_MESSAGES, Frame, FrameReader, encode

MAX_JOB_JSON_BYTES: Final = 16 * 1024 * 1024
MAX_JOB_BLOB_BYTES: Final = 4 * 1024 * 1024 * 1024


def read_job(stream: BinaryIO) -> Frame:
    """The one job frame from the parent (the worker exits if it is malformed)."""
    reader = FrameReader(
        max_json_bytes=MAX_JOB_JSON_BYTES,
        max_blob_bytes=MAX_JOB_BLOB_BYTES,
        allowed=PARENT_MESSAGES,
    )
    while True:
        chunk = stream.read(1 << 20)
        if not chunk:
            raise ProtocolError("the parent closed the pipe before sending a job")
        frames = reader.feed(chunk)
        if frames:
            return frames[0]


def keep_numba_cache_read_only() -> None:
    """Let pandas-ta's numba kernels compile in memory without saving them.

    numba saves what it compiles beside the package (`cache=True`); the locked-down worker may
    write nowhere, so on a fresh install the first indicator that compiled a kernel failed with
    PermissionError. Kernels already cached (by a run outside the sandbox) are still read.
    """
    caching.Cache.save_overload = _skip_saving


def _skip_saving(self: caching.Cache, sig: object, data: object) -> None:
    return None


def lock_down(run_limits: limits.RunLimits) -> dict[str, str]:
    """Apply every OS layer in order; returns each layer's status line.

    Off Linux only the rlimits apply (the other layers are Linux system calls); the status
    lines say so, and the parent logs them.
    """
    keep_numba_cache_read_only()
    readable = limits.readable_paths()
    if sys.platform != "linux":
        unavailable = f"inactive: not available on {sys.platform}"
        return {
            "rlimits": limits.apply_rlimits(run_limits),
            **dict.fromkeys(
                ("network", "privileges", "no_new_privs", "landlock", "seccomp"), unavailable
            ),
        }
    return {
        "network": limits.enter_empty_network(),
        "rlimits": limits.apply_rlimits(run_limits),
        "privileges": limits.drop_privileges(readable),
        "no_new_privs": limits.forbid_new_privileges(),
        "landlock": limits.apply_landlock(readable),
        "seccomp": limits.apply_seccomp(),
    }


def user_line(error: BaseException, filename: str) -> int | None:
    """The last line of the user's file in the error's traceback (not the sandbox's frames)."""
    line: int | None = None
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


MAX_ERROR_CHARS: Final = 2_000


def _short(text: str) -> str:
    """Error text bounded in size (a strategy can raise with an enormous message)."""
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS] + "..."


def error_body(error: BaseException, filename: str) -> dict[str, Any]:
    """An `error` message describing why the run stopped."""
    if isinstance(error, StrategyRejected):
        return {
            "type": "error",
            "kind": "rejected",
            "diagnostics": [d.to_dict() for d in error.diagnostics],
        }
    if isinstance(error, StrategyRuntimeError):
        cause = error.__cause__ or error
        return {
            "type": "error",
            "kind": "strategy",
            "exc_type": error.exc_type,
            "message": _short(error.message),
            "line": user_line(cause, filename),
            "bar_index": error.bar_index,
            "bar_time": error.bar_time,
            "phase": error.phase,
        }
    if isinstance(error, MemoryError):
        return {"type": "error", "kind": "memory", "message": "out of memory"}
    if isinstance(error, EngineError):
        return {
            "type": "error",
            "kind": "engine",
            "exc_type": type(error).__name__,
            "message": _short(str(error)),
        }
    line = user_line(error, filename)
    if line is not None:  # raised by the strategy's module body while it was being loaded
        return {
            "type": "error",
            "kind": "strategy",
            "exc_type": type(error).__name__,
            "message": _short(str(error)),
            "line": line,
            "bar_index": None,
            "bar_time": None,
            "phase": "loading the strategy",
        }
    return {
        "type": "error",
        "kind": "internal",
        "exc_type": type(error).__name__,
        "message": _short(str(error)),
        "line": None,
    }


def progress_sender(send: Callable[[bytes], object]) -> Callable[[Progress], None]:
    """The engine's on_progress callback, forwarding each report as a message."""

    def on_progress(progress: Progress) -> None:
        send(encode({"type": "progress", **codec.progress_body(progress)}))

    return on_progress


def run_job(job: Frame, send: Callable[[bytes], object]) -> None:
    """Compile and run the job's strategy; the result or the error goes to `send`."""
    body = job.body
    filename = str(body.get("filename", "strategy.py"))
    run_limits = limits.RunLimits(**body["limits"])
    market = codec.market_from_arrays(job.arrays, str(body["symbol"]))
    config = codec.config_from_dict(body["config"])
    layers = lock_down(run_limits)
    send(encode({"type": "ready", "layers": layers}))
    try:
        compiled = compile_strategy(
            body["code"],
            filename,
            strategy_name=body.get("strategy"),
            is_validated=body.get("validate") is not False,
        )
        strategy_class = typing.cast(type[Strategy], compiled.strategy_class)
        result = run_backtest(strategy_class, market, config, on_progress=progress_sender(send))
    except BaseException as error:
        send(encode(error_body(error, filename)))
        return
    result_message, arrays = codec.result_body(result)
    send(encode(result_message, arrays))


def main() -> int:
    """Entry point: protocol on the original stdout; stray output goes to /dev/null."""
    protocol_fd = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    out = os.fdopen(protocol_fd, "wb", buffering=0)

    def send(data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = out.write(view)
            view = view[written or 0 :]

    job = read_job(sys.stdin.buffer)
    run_job(job, send)
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
