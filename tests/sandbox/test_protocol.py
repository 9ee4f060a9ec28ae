"""The wire format: round trips, and every malformed or oversized frame is refused."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import numpy.typing as npt
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


def a_trade() -> object:
    from app.engine import ExitReason, PositionSide, Trade

    return Trade(1, 2, 0, 1, PositionSide.LONG, 1.0, 10.0, 11.0, 1.0, 0.0, ExitReason.SIGNAL)


def test_result_columns_round_trip_into_engine_records() -> None:
    from app.engine import PositionSide, Trade
    from sandbox.codec import records_from_arrays, records_to_arrays

    texts, arrays = records_to_arrays("trades", Trade, [a_trade()])
    assert arrays["trades.side"].tolist() == [0]  # the index of PositionSide.LONG
    (trade,) = records_from_arrays("trades", Trade, texts, arrays)
    assert trade.side is PositionSide.LONG
    assert trade == a_trade()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("side", np.array([2], dtype=np.int64)),  # "sideways": no such member
        ("entry_time", np.array([1.5])),  # a float where an int belongs
        ("size", np.array([1], dtype=np.int64)),  # an int where a float belongs
        ("exit_reason", np.array([-1], dtype=np.int64)),
        ("fees", np.array([0.0, 1.0])),  # one value too many
        ("pnl", np.array([np.inf])),  # numbers must be finite
        ("entry_price", np.array([np.nan])),
        ("size", np.array([-np.inf])),
    ],
)
def test_forged_result_columns_are_refused(field: str, value: npt.NDArray[Any]) -> None:
    from app.engine import Trade
    from sandbox.codec import records_from_arrays, records_to_arrays

    texts, arrays = records_to_arrays("trades", Trade, [a_trade()])
    with pytest.raises(ProtocolError):
        records_from_arrays("trades", Trade, texts, {**arrays, f"trades.{field}": value})


def test_result_text_columns_must_name_exactly_the_fields() -> None:
    from app.engine import LogLevel, LogLine
    from sandbox.codec import records_from_arrays, records_to_arrays

    texts, arrays = records_to_arrays("logs", LogLine, [LogLine(1, 0, LogLevel.INFO, "hi")])
    assert texts == {"message": ["hi"]}
    for forged in ({**texts, "extra": ["x"]}, {}, {"message": [1]}, {"message": "hi"}):
        with pytest.raises(ProtocolError):
            records_from_arrays("logs", LogLine, forged, arrays)


def test_record_text_longer_than_its_cap_is_cut_and_says_so() -> None:
    from app.engine import LogLevel, LogLine
    from sandbox.codec import RECORD_TEXT_CHARS, records_from_arrays, records_to_arrays
    from sandbox.text import CUT_NOTE

    _, arrays = records_to_arrays("logs", LogLine, [LogLine(1, 0, LogLevel.INFO, "hi")])
    for text in ("x" * 10_001, "é" * (RECORD_TEXT_CHARS + 1)):
        (line,) = records_from_arrays("logs", LogLine, {"message": [text]}, arrays)
        assert len(line.message) == RECORD_TEXT_CHARS and line.message.endswith(CUT_NOTE)


def test_arrays_are_used_in_place_and_aligned() -> None:
    data = encode({"type": "progress", "note": "x" * 5}, {"a": np.arange(4.0)})
    (frame,) = reader().feed(data)
    array = frame.arrays["a"]
    assert array.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert array.ctypes.data % 8 == 0
    assert not array.flags.owndata  # a view on the received bytes, not a copy


def test_a_frame_followed_by_part_of_the_next_keeps_both_intact() -> None:
    first = encode({"type": "progress", "n": 1}, {"a": np.arange(3, dtype=np.int64)})
    second = encode({"type": "progress", "n": 2}, {"a": np.arange(5, dtype=np.int64)})
    decoder = reader()
    (one,) = decoder.feed(first + second[:20])
    (two,) = decoder.feed(second[20:])
    assert one.arrays["a"].tolist() == [0, 1, 2]
    assert two.arrays["a"].tolist() == [0, 1, 2, 3, 4]
    assert decoder.pending == 0


def order_records() -> tuple[object, ...]:
    from app.engine import OrderRecord, OrderSide, OrderStatus, OrderType

    filled = OrderRecord(
        1, 10, 0, OrderSide.BUY, OrderType.LIMIT, 1.5, 99.0, None, 3.0, 90.0, None,
        OrderStatus.FILLED, 20, 98.5, 1.5, 0.07, "",
    )  # fmt: skip
    rejected = OrderRecord(
        2, 11, 1, OrderSide.SELL, OrderType.MARKET, 2.0, None, None, 1.0, None, None,
        OrderStatus.REJECTED, None, None, 0.0, 0.0, "not enough cash",
    )  # fmt: skip
    return filled, rejected


def test_records_round_trip_through_typed_arrays_with_none_values() -> None:
    from app.engine import OrderRecord
    from sandbox.codec import records_from_arrays, records_to_arrays

    records = order_records()
    texts, arrays = records_to_arrays("orders", OrderRecord, records)
    assert arrays["orders.limit_price"].dtype == np.float64
    assert arrays["orders.filled_time.none"].tolist() == [0, 1]
    data = encode({"type": "result", **texts}, arrays)
    (frame,) = reader().feed(data)
    body = {key: frame.body[key] for key in texts}
    assert records_from_arrays("orders", OrderRecord, body, frame.arrays) == records


@pytest.mark.parametrize(
    ("key", "forged"),
    [
        ("orders.side", np.array([0, 7], dtype=np.int64)),  # no such enum member
        ("orders.status", np.array([-1, 0], dtype=np.int64)),
        ("orders.amount", np.array([1, 2], dtype=np.int64)),  # ints where floats belong
        ("orders.id", np.array([1.0, 2.0])),  # floats where ints belong
        ("orders.filled_time.none", np.array([0, 2], dtype=np.int64)),  # mask not 0/1
        ("orders.fee", np.array([0.0])),  # one value short
        ("orders.limit_price", np.array([np.inf, np.nan])),  # NaN is None, infinity refused
        ("orders.fee", np.array([np.nan, 0.0])),  # not optional: NaN refused
    ],
)
def test_forged_record_arrays_are_refused(key: str, forged: npt.NDArray[Any]) -> None:
    from app.engine import OrderRecord
    from sandbox.codec import records_from_arrays, records_to_arrays

    texts, arrays = records_to_arrays("orders", OrderRecord, order_records())
    with pytest.raises(ProtocolError):
        records_from_arrays("orders", OrderRecord, texts, {**arrays, key: forged})
    missing = {name: array for name, array in arrays.items() if name != key}
    with pytest.raises(ProtocolError):
        records_from_arrays("orders", OrderRecord, texts, missing)


def test_account_marks_must_be_ascending_bars_of_the_run() -> None:
    from app.engine import MarketData, RunConfig, Strategy, simulate
    from sandbox.codec import record_body, result_from_frame

    class Idle(Strategy):
        def on_data(self, bar: object) -> None:
            return None

    bars = 10
    market = MarketData(
        time=np.arange(bars, dtype=np.int64) * 60_000_000_000,
        open=np.full(bars, 100.0),
        high=np.full(bars, 101.0),
        low=np.full(bars, 99.0),
        close=np.full(bars, 100.0),
        volume=np.ones(bars),
    )
    config = RunConfig()
    body, arrays = record_body(simulate(Idle, market, config))
    result = result_from_frame(body, arrays, market, config)
    assert len(result.equity.equity) == bars
    for forged in (np.array([0, 12]), np.array([0, 5, 5]), np.array([1, 3])):
        index = forged.astype(np.int64)
        marks = {name: np.zeros(len(index)) for name in ("cash", "margin", "signed_size")}
        forged_arrays = {
            **arrays,
            "marks.index": index,
            **{f"marks.{name}": value for name, value in marks.items()},
            "marks.entry_price": np.zeros(len(index)),
        }
        with pytest.raises(ProtocolError):
            result_from_frame(body, forged_arrays, market, config)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("column", ["cash", "margin", "signed_size", "entry_price"])
def test_account_marks_must_be_finite(column: str, bad: float) -> None:
    from app.engine import MarketData, RunConfig, Strategy, simulate
    from sandbox.codec import record_body, result_from_frame

    class Idle(Strategy):
        def on_data(self, bar: object) -> None:
            return None

    market = MarketData(
        time=np.arange(5, dtype=np.int64) * 60_000_000_000,
        open=np.full(5, 100.0),
        high=np.full(5, 101.0),
        low=np.full(5, 99.0),
        close=np.full(5, 100.0),
        volume=np.ones(5),
    )
    body, arrays = record_body(simulate(Idle, market, RunConfig()))
    forged = arrays[f"marks.{column}"].copy()
    forged[0] = bad
    with pytest.raises(ProtocolError):
        result_from_frame(body, {**arrays, f"marks.{column}": forged}, market, RunConfig())
    for scalar in ("fees_paid", "funding_paid"):
        with pytest.raises(ProtocolError):
            result_from_frame({**body, scalar: 10**400}, arrays, market, RunConfig())
