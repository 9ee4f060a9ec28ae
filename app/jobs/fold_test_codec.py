"""A walk-forward fold's test run as a `strategylab worker` sends it back to the web node.

The worker keeps its sandbox's `result` message once it passed the sandbox's checks
(sandbox.supervisor.ResultCopy) and forwards it as a protocol frame (sandbox.protocol) with
every trade and order of the run in it (the ones progress messages streamed first included),
so the web node decodes it with the very checks a local run's result goes through
(`result_from_copy`: text cleaned, numbers finite and bounded, records checked, the equity
curve and the metrics derived from the web node's own data and config) and gets the RunResult
the same run has on the web node, value for value. A test run that failed goes back as one
JSON object with its sentence (a frame never starts with "{": its first byte is the high byte
of a JSON length, far below 0x7b).
"""

from __future__ import annotations

import json
from typing import Any, Final

from app.engine import OrderRecord, RunResult, Trade
from app.research.walkforward import FoldTestError
from app.runs import PreparedRun
from sandbox import ProtocolError
from sandbox.codec import records_to_arrays
from sandbox.limits import MIB
from sandbox.protocol import Frame, FrameReader, encode
from sandbox.supervisor import result_from_copy
from sandbox.text import MAX_TEXT_CHARS, clean_text

FAILURE_START: Final = b"{"
FORWARDED_RECORDS: Final = ("trades", "orders")
"""Record kinds a run's progress messages may have streamed before its result: forwarded
whole, in the result's order (trades as closed, orders by id)."""


def encode_result(result: RunResult, frame: Frame) -> bytes:
    """The worker's side: the run's checked `result` message (`frame`, ResultCopy.frame) with
    `result`'s trades and orders in it, as one frame."""
    body: dict[str, Any] = dict(frame.body)
    arrays = {
        name: values
        for name, values in frame.arrays.items()
        if not name.startswith(tuple(f"{kind}." for kind in FORWARDED_RECORDS))
    }
    trade_texts, trade_arrays = records_to_arrays("trades", Trade, result.trades)
    order_texts, order_arrays = records_to_arrays("orders", OrderRecord, result.orders)
    body["trades"], body["orders"] = trade_texts, order_texts
    return encode(body, {**arrays, **trade_arrays, **order_arrays})


def encode_failure(reason: str) -> bytes:
    """The worker's side: a test run that failed, as its one sentence."""
    return json.dumps({"failed": True, "reason": reason}).encode()


def decode_result(raw: bytes | str, prepared: PreparedRun) -> RunResult:
    """The web node's side: the RunResult of `prepared` (the fold's test run, as this node
    prepared it) from what the worker stored. Raises FoldTestError with the worker's sentence
    for a failed run and ProtocolError (a SandboxError) for anything that is not a usable
    result of this run: too large for the run's record budget, not one frame, or refused by
    the checks."""
    data = raw.encode() if isinstance(raw, str) else raw
    if data.startswith(FAILURE_START):
        raise FoldTestError(_failure_reason(data))
    limits = prepared.limits.checked(prepared.maximums)
    budget = 2 * limits.record_budget_bytes(prepared.maximums)  # result + streamed records
    if len(data) > budget:
        raise ProtocolError(
            f"the worker's result of {len(data)} bytes exceeds the run's budget of {budget}"
        )
    message_bytes = prepared.maximums.max_message_mb * MIB
    reader = FrameReader(
        max_json_bytes=message_bytes,
        max_blob_bytes=message_bytes,
        allowed=frozenset({"result"}),
        is_untrusted=True,
    )
    frames = reader.feed(data)
    if len(frames) != 1 or reader.pending:
        raise ProtocolError("the worker's result is not exactly one message")
    return result_from_copy(
        frames[0], prepared.market, prepared.inputs.config, prepared.limits, prepared.maximums
    )


def _failure_reason(data: bytes) -> str:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise ProtocolError(f"the worker's failure report is unreadable: {error}") from None
    reason = document.get("reason") if isinstance(document, dict) else None
    if not isinstance(reason, str):
        raise ProtocolError("the worker's failure report has no reason")
    return clean_text(reason, MAX_TEXT_CHARS)


__all__ = ["decode_result", "encode_failure", "encode_result"]
