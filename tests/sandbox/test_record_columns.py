"""The parent decodes a worker's trades and orders into columns (RecordTable): the frames' own
arrays, checked a column at a time, with no Python object per record, and the same result as
the records it was sent."""

from __future__ import annotations

import dataclasses
import random
import tracemalloc
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from app.engine import (
    ExitReason,
    OrderRecord,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    Progress,
    RunConfig,
    Strategy,
    Trade,
    simulate,
    summarize,
)
from app.engine.record_tables import RecordTable
from sandbox import ProtocolError
from sandbox.codec import (
    progress_body,
    progress_from_frame,
    record_body,
    records_to_arrays,
    result_from_frame,
    table_from_arrays,
)
from sandbox.protocol import WORKER_MESSAGES, Frame, FrameReader, encode
from tests.conftest import build_market

MARKET = build_market([100.0 + (k % 7) for k in range(40)])


def trade(k: int) -> Trade:
    return Trade(
        int(MARKET.time[k % 39]), int(MARKET.time[k % 39 + 1]), k % 39, k % 39 + 1,
        PositionSide.LONG if k % 2 else PositionSide.SHORT, 1.0 + k % 5, 100.0, 101.0,
        (-1.0) ** k * (k % 11), 0.05, list(ExitReason)[k % len(ExitReason)], 40.0,
    )  # fmt: skip


def order(order_id: int) -> OrderRecord:
    filled = order_id % 3 != 0
    return OrderRecord(
        order_id, int(MARKET.time[order_id % 40]), order_id % 40, OrderSide.BUY,
        OrderType.LIMIT if order_id % 2 else OrderType.MARKET, 1.5,
        99.0 if order_id % 2 else None, None, 2.0, None, None,
        OrderStatus.FILLED if filled else OrderStatus.CANCELLED,
        int(MARKET.time[order_id % 40]) if filled else None, 99.5 if filled else None,
        1.5 if filled else 0.0, 0.01, "" if filled else f"cancelled ({order_id % 4})",
    )  # fmt: skip


def through_the_wire(body: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> Frame:
    reader = FrameReader(
        max_json_bytes=1 << 26, max_blob_bytes=1 << 26, allowed=WORKER_MESSAGES, is_untrusted=True
    )
    (frame,) = reader.feed(encode(body, arrays))
    return frame


def test_decoded_columns_are_the_frames_arrays_not_copies() -> None:
    texts, arrays = records_to_arrays("trades", Trade, [trade(k) for k in range(50)])
    frame = through_the_wire({"type": "result", "trades": texts}, arrays)
    table = table_from_arrays("trades", Trade, frame.body["trades"], frame.arrays)
    assert np.shares_memory(table.values("pnl"), frame.arrays["trades.pnl"])
    assert np.shares_memory(table.values("side"), frame.arrays["trades.side"])
    assert table == tuple(trade(k) for k in range(50))


def test_decoding_makes_no_python_object_per_record() -> None:
    trades = [trade(k) for k in range(20_000)]
    orders = [order(k) for k in range(40_000)]
    trade_texts, trade_arrays = records_to_arrays("trades", Trade, trades)
    order_texts, order_arrays = records_to_arrays("orders", OrderRecord, orders)
    del trades, orders
    tracemalloc.start()
    try:
        decoded = (
            table_from_arrays("trades", Trade, trade_texts, trade_arrays),
            table_from_arrays("orders", OrderRecord, order_texts, order_arrays),
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [len(table) for table in decoded] == [20_000, 40_000]
    # As named tuples these 60,000 records took ~30 MB; as columns the decoder's own
    # allocations are the None masks and text codes (~1 MB): the numbers stay the frame's.
    assert peak < 3_000_000, f"{peak:,} bytes traced"


def test_a_none_mask_must_be_whole_numbers_zero_or_one() -> None:
    texts, arrays = records_to_arrays("orders", OrderRecord, [order(1), order(3)])
    forged = {**arrays, "orders.filled_time.none": np.array([0.0, 1.0])}
    with pytest.raises(ProtocolError, match="filled_time"):
        table_from_arrays("orders", OrderRecord, texts, forged)


def test_text_columns_must_be_as_long_as_the_numbers() -> None:
    texts, arrays = records_to_arrays("orders", OrderRecord, [order(1), order(3)])
    with pytest.raises(ProtocolError, match="differ in length"):
        table_from_arrays("orders", OrderRecord, {**texts, "reason": ["x"]}, arrays)


class Idle(Strategy):
    def on_data(self, bar: object) -> None:
        return None


def test_streamed_batches_and_the_result_make_the_records_the_run_made() -> None:
    config = RunConfig()
    ids = list(range(1, 61))
    random.Random(7).shuffle(ids)  # orders end in any order; the result lists them by id
    made = dataclasses.replace(
        simulate(Idle, MARKET, config),
        trades=tuple(trade(k) for k in range(45)),
        orders=tuple(order(k) for k in ids),
    )
    batches = []
    for start in (0, 20):  # two progress messages carry the first 40 trades and orders
        body, arrays = progress_body(
            Progress(bars_done=1, bars_total=40, time=0, equity=1.0),
            made.trades[start : start + 20],
            made.orders[start : start + 20],
        )
        batches.append(progress_from_frame(*_parts(through_the_wire(body, arrays))))
    rest = dataclasses.replace(made, trades=made.trades[40:], orders=made.orders[40:])
    frame = through_the_wire(*record_body(rest))
    result = result_from_frame(
        frame.body,
        frame.arrays,
        MARKET,
        config,
        trade_batches=[RecordTable.from_records(Trade, b.trades) for b in batches],
        order_batches=[RecordTable.from_records(OrderRecord, b.orders) for b in batches],
    )
    by_id = dataclasses.replace(made, orders=tuple(sorted(made.orders, key=lambda o: o.id)))
    expected = summarize(by_id, MARKET, config)
    assert isinstance(result.trades, RecordTable) and result.trades == made.trades
    assert result.orders == expected.orders and [o.id for o in result.orders] == sorted(ids)
    assert result.metrics == expected.metrics


def test_a_record_naming_a_symbol_the_run_does_not_trade_is_refused() -> None:
    config = RunConfig()
    made = dataclasses.replace(
        simulate(Idle, MARKET, config), trades=(trade(1), trade(2)._replace(symbol="DOGEUSDT"))
    )
    frame = through_the_wire(*record_body(made))
    with pytest.raises(ProtocolError, match="symbol the run does not trade"):
        result_from_frame(frame.body, frame.arrays, MARKET, config)


def _parts(frame: Frame) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    return frame.body, frame.arrays


def test_a_table_goes_on_the_wire_as_its_records_would() -> None:
    orders = tuple(order(k) for k in range(1, 12))
    table = RecordTable.from_records(OrderRecord, orders)
    from_table = records_to_arrays("orders", OrderRecord, table)
    from_records = records_to_arrays("orders", OrderRecord, orders)
    assert from_table[0] == from_records[0]
    assert from_table[1].keys() == from_records[1].keys()
    for key, column in from_records[1].items():
        assert from_table[1][key].tobytes() == column.tobytes(), key
    frame = through_the_wire({"type": "result", "orders": from_table[0]}, from_table[1])
    assert table_from_arrays("orders", OrderRecord, frame.body["orders"], frame.arrays) == orders
