"""The wire format: round trips, and every malformed or oversized frame is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sandbox import ProtocolError
from sandbox.protocol import HEADER, WORKER_MESSAGES, FrameReader, encode


def reader(max_bytes: int = 1 << 20) -> FrameReader:
    return FrameReader(max_json_bytes=max_bytes, max_blob_bytes=max_bytes, allowed=WORKER_MESSAGES)


def test_round_trip_with_arrays_split_across_reads() -> None:
    data = encode(
        {"type": "progress", "n": 1},
        {"a": np.arange(3, dtype=np.int64), "b": np.array([0.5, np.nan])},
    )
    decoder = reader()
    assert decoder.feed(data[:7]) == []
    (frame,) = decoder.feed(data[7:])
    assert frame.body == {"type": "progress", "n": 1}
    assert frame.arrays["a"].tolist() == [0, 1, 2]
    assert frame.arrays["b"][0] == 0.5 and np.isnan(frame.arrays["b"][1])


def raw(body: object, blob: bytes = b"") -> bytes:
    payload = json.dumps(body).encode()
    return HEADER.pack(len(payload), len(blob)) + payload + blob


@pytest.mark.parametrize(
    "data",
    [
        HEADER.pack(10, 0) + b"not json!!",
        raw({"type": "shell"}),
        raw(["type", "result"]),
        raw({"type": "result", "arrays": [{"name": "a", "dtype": "f8", "length": 4}]}, b"x" * 8),
        raw({"type": "result", "arrays": [{"name": "a", "dtype": "O", "length": 1}]}, b"x" * 8),
        raw({"type": "result", "arrays": [{"name": "a", "dtype": "f8", "length": -1}]}),
        raw({"type": "result", "arrays": []}, b"trailing"),
        raw({"type": "result", "arrays": "x"}),
        HEADER.pack(1 << 30, 0),
        HEADER.pack(10, 1 << 40),
    ],
    ids=[
        "bad-json",
        "unknown-type",
        "not-object",
        "short-blob",
        "bad-dtype",
        "negative",
        "trailing",
        "arrays-not-list",
        "huge-json",
        "huge-blob",
    ],
)
def test_malformed_frames_are_refused(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        reader().feed(data)


TRADE = {
    "entry_time": [1], "exit_time": [2], "entry_index": [0], "exit_index": [1],
    "side": ["long"], "size": [1.0], "entry_price": [10.0], "exit_price": [11.0],
    "pnl": [1.0], "fees": [0.0], "exit_reason": ["signal"],
}  # fmt: skip


def test_result_columns_round_trip_into_engine_records() -> None:
    from app.engine import PositionSide, Trade
    from sandbox.codec import records_from_columns, records_to_columns

    (trade,) = records_from_columns(Trade, TRADE)
    assert trade.side is PositionSide.LONG
    assert records_to_columns(Trade, [trade]) == TRADE


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("side", ["sideways"]),
        ("entry_time", [1.5]),
        ("size", ["1.0"]),
        ("pnl", [True]),
        ("exit_reason", [None]),
        ("fees", [0.0, 1.0]),
    ],
)
def test_forged_result_columns_are_refused(field: str, value: list[object]) -> None:
    from app.engine import Trade
    from sandbox.codec import records_from_columns

    with pytest.raises(ProtocolError):
        records_from_columns(Trade, {**TRADE, field: value})


def test_result_columns_must_name_exactly_the_fields() -> None:
    from app.engine import Trade
    from sandbox.codec import records_from_columns

    with pytest.raises(ProtocolError):
        records_from_columns(Trade, {**TRADE, "extra": [1]})
