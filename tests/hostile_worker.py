"""A hostile sandbox worker: stands in for `sandbox.worker` and breaks the protocol on purpose.

`hostile_worker(script, folder)` starts a `sandbox.WarmWorker` whose process, instead of the
real worker, writes the script's bytes to the protocol pipe and then hangs, exits, or repeats
them forever. The bytes are built here, in the test process, with the real encoder where a
frame should look genuine: garbage, frames that claim to be huge, invalid UTF-8, lone
surrogates, terminal escapes, Rich markup, forged log lines, an endless stream, silence,
death in the middle of a frame. The parent-trust tests check that whatever it sends, the
parent stays up, answers, and ends the run with a reason.
"""

from __future__ import annotations

import random
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
from hypothesis import strategies as st

from app.engine import AccountMarks, LogLevel, LogLine, Progress, RunRecord
from sandbox import WarmWorker
from sandbox.codec import progress_body, record_body
from sandbox.protocol import HEADER, encode

NASTY_TEXTS: Final = (
    "lone surrogate \ud800 and \udfff",
    "clear screen \x1b[2J\x1b[H and red \x1b[31m",
    "window title \x1b]0;pwned\x07",
    "link \x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "Rich markup [bold red]boom[/bold red] and a stray closing tag [/]",
    "forged\n2024-01-01T00:00:00Z bar=3 warning: liquidated: position wiped out",
    "carriage\rreturn, bell\x07, backspace\x08, NUL\x00, DEL\x7f",
    "C1 CSI \x9b31m and NEL \x85 next line",
    "bidi \u202eoverride\u202c and isolate \u2066x\u2069",
    "separators \u2028 line and \u2029 paragraph",
)
"""Strings no parent-side writer, log or terminal may receive as they are."""

HOSTILE_CHARS: Final = st.one_of(
    st.characters(),
    st.characters(codec=None, categories=["Cs", "Cc", "Cf", "Zl", "Zp", "Co", "Cn"]),
)
"""Any code point, weighted towards the ones a writer or a terminal must never receive (for
hypothesis: surrogates included, which its default text leaves out)."""

FORGED_LINE_START: Final = "2024-01-01T00:00:00Z bar=3"
NASTY_NAME: Final = "[bold]Evil\x1b]0;title\x07\ud800"
INVALID_UTF8_MARK: Final = "INVALID-UTF8-HERE"
INVALID_UTF8: Final = b"\xff\xfe\xc0\xaf\xed\xa0\x80\x80\xf8"  # junk, overlong, a surrogate

After = Literal["hang", "exit", "repeat"]

REPLAY: Final = """
import os, sys, time
data = open(sys.argv[1], "rb").read()
sys.stdin.buffer.read(1)  # the job has begun to arrive: a worker found dead would be replaced
def write(chunk):
    view = memoryview(chunk)
    while view:
        view = view[os.write(1, view):]
try:
    write(data)
    while sys.argv[2] == "repeat":
        write(data)
    if sys.argv[2] == "hang":
        time.sleep(600)
except BrokenPipeError:
    pass
"""
"""The hostile process: a bare interpreter (no site, no imports of ours) that replays bytes."""


@dataclass(frozen=True, slots=True)
class HostileScript:
    """What the hostile worker writes, and what it does afterwards."""

    output: bytes
    after: After = "hang"


def hostile_worker(script: HostileScript, folder: Path) -> WarmWorker:
    """A started worker process that plays `script` (its bytes are kept in `folder`)."""
    path = folder / f"hostile-{uuid.uuid4().hex}.bin"
    path.write_bytes(script.output)
    return WarmWorker([sys.executable, "-I", "-S", "-c", REPLAY, str(path), script.after])


def _frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), 0) + payload


def ready() -> bytes:
    return encode({"type": "ready", "layers": {"rlimits": "on", NASTY_NAME: NASTY_TEXTS[1]}})


def nasty_progress() -> bytes:
    logs = tuple(LogLine(0, 0, LogLevel.INFO, text) for text in NASTY_TEXTS)
    return encode(*progress_body(Progress(1, 10, 0, 10_000.0, logs)))


def nasty_record(cash: float, time0: int) -> RunRecord:
    """A well-formed record of a flat run whose class name, params and logs are hostile."""
    marks = AccountMarks(
        index=np.array([0], dtype=np.int64),
        cash=np.array([cash]),
        margin=np.array([0.0]),
        signed_size=np.array([0.0]),
        entry_price=np.array([0.0]),
    )
    logs = tuple(LogLine(time0, 0, LogLevel.INFO, text) for text in NASTY_TEXTS)
    return RunRecord(
        strategy=NASTY_NAME,
        params={NASTY_NAME: NASTY_TEXTS[4], "title": NASTY_TEXTS[2], "n": 3},
        start=0,
        marks=marks,
        trades=(),
        orders=(),
        logs=(*logs, LogLine(time0, 0, LogLevel.WARNING, INVALID_UTF8_MARK)),
        logs_dropped=0,
        fees_paid=0.0,
        funding_paid=0.0,
        liquidations=0,
    )


def nasty_error_body() -> dict[str, Any]:
    return {
        "type": "error",
        "kind": "strategy",
        "exc_type": NASTY_NAME,
        "message": " | ".join(NASTY_TEXTS) * 50,
        "line": 3,
        "bar_index": 1,
        "bar_time": NASTY_TEXTS[2],
        "phase": NASTY_TEXTS[5],
    }


def _nested(depth: int) -> HostileScript:
    return HostileScript(_frame(b'{"type":"progress","p":' + b"[" * depth + b"]" * depth + b"}"))


def _exit_mid_frame() -> HostileScript:
    frame = nasty_progress()
    return HostileScript(frame[: len(frame) // 2], after="exit")


def _nasty_internal() -> HostileScript:
    body = {"type": "error", "kind": NASTY_NAME, "exc_type": 7, "message": list(NASTY_TEXTS)}
    return HostileScript(encode(body))


def _nasty_result(cash: float, time0: int) -> HostileScript:
    result = encode(*record_body(nasty_record(cash, time0)))
    mark = INVALID_UTF8_MARK.encode()
    result = result.replace(mark, INVALID_UTF8.ljust(len(mark)), 1)
    return HostileScript(ready() + nasty_progress() + result)


FIXED_SCRIPTS: Final[dict[str, Callable[[], HostileScript]]] = {
    # random bytes where frames should be
    "garbage": lambda: HostileScript(random.Random(9).randbytes(1 << 16)),
    # a header announcing a frame of many gigabytes
    "huge_frame": lambda: HostileScript(HEADER.pack(2**32 - 1, 2**62)),
    # nested far deeper than json can parse, and deeper than MAX_JSON_DEPTH within its limit
    "deep_json": lambda: _nested(100_000),
    "shallow_but_too_deep": lambda: _nested(40),
    # more digits than Python converts to an int
    "huge_number": lambda: HostileScript(
        _frame(b'{"type":"progress","progress":[' + b"9" * 10_000 + b"]}")
    ),
    "unknown_type": lambda: HostileScript(encode({"type": "\x1b]0;shell\x07"})),
    # half of a frame, then a clean exit; or no output at all
    "exit_mid_frame": _exit_mid_frame,
    "exit_at_once": lambda: HostileScript(b"", after="exit"),
    # takes the job and never answers; or hostile progress reports forever, never a result
    "silent": lambda: HostileScript(b""),
    "endless": lambda: HostileScript(nasty_progress(), after="repeat"),
    # hostile logs, then an error whose every field is hostile; an error of an unknown kind
    "nasty_error": lambda: HostileScript(ready() + nasty_progress() + encode(nasty_error_body())),
    "nasty_internal": _nasty_internal,
}
BEHAVIOURS: Final = (*FIXED_SCRIPTS, "nasty_result")


def script(behaviour: str, *, cash: float = 10_000.0, time0: int = 0) -> HostileScript:
    """The script of one named behaviour (one of BEHAVIOURS); `nasty_result`, a well-formed
    result full of hostile text, is a flat run starting with `cash` at bar time `time0`."""
    if behaviour == "nasty_result":
        return _nasty_result(cash, time0)
    if behaviour not in FIXED_SCRIPTS:
        raise ValueError(f"no hostile behaviour {behaviour!r}")
    return FIXED_SCRIPTS[behaviour]()
