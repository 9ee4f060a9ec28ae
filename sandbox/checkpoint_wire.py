"""Checkpoints on the wire: the worker's `checkpoint` messages, the parent's reading of them,
and the checkpoint a resumed job carries to its worker.

The worker never writes a file: every `checkpoint_every` bars it sends a `checkpoint` message
holding the engine's and the strategy's state (JSON) and the records made since its previous
checkpoint (typed arrays, as results travel: `sandbox.codec`), so the traffic grows with the
run, not with the number of checkpoints. The parent trusts none of it: the state is read by
the engine's own strict readers (app.engine.checkpoint_document), the records by the codec,
the counts against the run's caps; it rebuilds the whole Checkpoint from what it accepted
and hands it to the run service, which writes the file (app.runs.checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from app.engine import LogLine, OrderRecord, Trade
from app.engine.checkpoint import Checkpoint, CheckpointCallback, Mark
from app.engine.checkpoint_document import engine_from_plain, engine_to_plain, marks_from_plain
from app.engine.checkpoint_values import decode_state
from app.engine.errors import CheckpointError
from sandbox.codec import records_from_arrays, records_to_arrays
from sandbox.errors import ProtocolError
from sandbox.limits import RunLimits
from sandbox.protocol import Chunk, Frame, encode_parts

MARK_COLUMNS: Final = ("index", "cash", "margin", "signed_size", "entry_price")
RESUME_PREFIX: Final = "resume."


def _record_arrays(
    prefix: str,
    trades: tuple[Trade, ...],
    orders: tuple[OrderRecord, ...],
    logs: tuple[LogLine, ...],
    marks: tuple[Mark, ...],
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """Records and marks as the codec's columns, array names under `prefix`."""
    texts: dict[str, Any] = {}
    arrays: dict[str, npt.NDArray[Any]] = {}
    for kind, cls, records in (
        ("trades", Trade, trades),
        ("orders", OrderRecord, orders),
        ("logs", LogLine, logs),
    ):
        texts[kind], columns = records_to_arrays(prefix + kind, cls, records)
        arrays.update(columns)
    rows = list(zip(*marks, strict=True)) if marks else [() for _ in MARK_COLUMNS]
    for name, column in zip(MARK_COLUMNS, rows, strict=True):
        dtype = np.int64 if name == "index" else np.float64
        arrays[f"{prefix}marks.{name}"] = np.array(column, dtype=dtype)
    return texts, arrays


def _records_from(
    prefix: str, texts: object, arrays: Mapping[str, npt.NDArray[Any]]
) -> tuple[tuple[Trade, ...], tuple[OrderRecord, ...], tuple[LogLine, ...], list[list[Any]]]:
    if not isinstance(texts, dict):
        raise ProtocolError("a checkpoint's records are malformed")
    trades = records_from_arrays(prefix + "trades", Trade, texts.get("trades"), arrays)
    orders = records_from_arrays(prefix + "orders", OrderRecord, texts.get("orders"), arrays)
    logs = records_from_arrays(prefix + "logs", LogLine, texts.get("logs"), arrays)
    columns = []
    for name in MARK_COLUMNS:
        column = arrays.get(f"{prefix}marks.{name}")
        expected = np.int64 if name == "index" else np.float64
        if column is None or column.dtype != expected:
            raise ProtocolError("a checkpoint's account marks are malformed")
        columns.append(column.tolist())
    if len({len(column) for column in columns}) != 1:
        raise ProtocolError("a checkpoint's account marks differ in length")
    return trades, orders, logs, [list(row) for row in zip(*columns, strict=True)]


# -- worker side ----------------------------------------------------------------------------


class CheckpointStream:
    """The engine's on_checkpoint callback in the worker: sends each checkpoint with the
    records made since the previous one (since `resumed_from`, for a resumed run)."""

    def __init__(self, send: Callable[[Chunk], object], resumed_from: Checkpoint | None) -> None:
        self._send = send
        base = resumed_from
        self._sent = (
            (len(base.trades), len(base.orders), len(base.logs), len(base.marks))
            if base is not None
            else (0, 0, 0, 0)
        )

    def __call__(self, checkpoint: Checkpoint) -> None:
        trades, orders, logs, marks = self._sent
        texts, arrays = _record_arrays(
            "",
            checkpoint.trades[trades:],
            checkpoint.orders[orders:],
            checkpoint.logs[logs:],
            checkpoint.marks[marks:],
        )
        body = {
            "type": "checkpoint",
            "bar": checkpoint.bar,
            "engine": engine_to_plain(checkpoint.engine),
            "strategy": checkpoint.strategy,
            "records": texts,
        }
        for part in encode_parts(body, arrays):
            self._send(part)
        self._sent = (
            len(checkpoint.trades),
            len(checkpoint.orders),
            len(checkpoint.logs),
            len(checkpoint.marks),
        )


def resume_job_parts(checkpoint: Checkpoint) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """The `resume` entry of a job's body and its arrays (named RESUME_PREFIX...)."""
    texts, arrays = _record_arrays(
        RESUME_PREFIX,
        checkpoint.trades,
        checkpoint.orders,
        checkpoint.logs,
        checkpoint.marks,
    )
    body = {
        "bar": checkpoint.bar,
        "engine": engine_to_plain(checkpoint.engine),
        "strategy": checkpoint.strategy,
        "records": texts,
    }
    return body, arrays


def checkpoint_from_job(job: Frame) -> Checkpoint | None:
    """The checkpoint a job resumes from (None for a job that starts at the beginning)."""
    body = job.body.get("resume")
    if body is None:
        return None
    if not isinstance(body, dict):
        raise ProtocolError("the job's resume entry is malformed")
    return _checkpoint(body, RESUME_PREFIX, job.arrays, previous=None)


def _checkpoint(
    body: Mapping[str, Any],
    prefix: str,
    arrays: Mapping[str, npt.NDArray[Any]],
    previous: Checkpoint | None,
) -> Checkpoint:
    """A Checkpoint from a message body and its arrays, the records appended to `previous`'s."""
    bar = body.get("bar")
    if type(bar) is not int:
        raise ProtocolError("a checkpoint names no bar")
    try:
        engine = engine_from_plain(body.get("engine"))
        decode_state(body.get("strategy"))
        trades, orders, logs, mark_rows = _records_from(prefix, body.get("records"), arrays)
        earlier = [list(mark) for mark in previous.marks] if previous is not None else []
        marks = marks_from_plain([*earlier, *mark_rows], bar)
    except CheckpointError as error:
        raise ProtocolError(f"the checkpoint was refused: {error}") from None
    if previous is not None:
        trades = (*previous.trades, *trades)
        orders = (*previous.orders, *orders)
        logs = (*previous.logs, *logs)
    strategy = body["strategy"]
    return Checkpoint(bar, engine, strategy, trades, orders, logs, marks)


# -- parent side ----------------------------------------------------------------------------


class CheckpointCollector:
    """Reads a worker's checkpoint messages into whole Checkpoints for `on_checkpoint`,
    starting from `resumed_from` (the checkpoint the job carried), within the run's caps."""

    def __init__(
        self,
        limits: RunLimits,
        bars: int,
        on_checkpoint: CheckpointCallback,
        resumed_from: Checkpoint | None = None,
    ) -> None:
        self._limits = limits
        self._bars = bars
        self._on_checkpoint = on_checkpoint
        self._last = resumed_from

    def receive(self, frame: Frame) -> None:
        """One `checkpoint` message: checked, merged, handed on. ProtocolError when it is not
        one an honest worker sends."""
        checkpoint = _checkpoint(frame.body, "", frame.arrays, self._last)
        last_bar = self._last.bar if self._last is not None else 0
        if not last_bar < checkpoint.bar < self._bars:
            raise ProtocolError("a checkpoint names a bar out of order or outside the data")
        limits = self._limits
        if (
            len(checkpoint.trades) > limits.max_trades
            or len(checkpoint.orders) > limits.max_orders
            or len(checkpoint.logs) > limits.max_log_lines
        ):
            raise ProtocolError("a checkpoint holds more records than the run may make")
        self._last = checkpoint
        self._on_checkpoint(checkpoint)
