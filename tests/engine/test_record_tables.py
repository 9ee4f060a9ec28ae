"""A run's records as columns (app.engine.record_tables): read as the tuple of records it holds."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from app.engine import (
    ExitReason,
    OrderRecord,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    Trade,
)
from app.engine.record_tables import ROW_BLOCK, RecordTable, field_specs


def trade(k: int, **fields: object) -> Trade:
    base = Trade(
        entry_time=k * 60, exit_time=k * 60 + 30, entry_index=k, exit_index=k + 1,
        side=PositionSide.LONG if k % 2 else PositionSide.SHORT, size=1.0 + k,
        entry_price=100.0 + k / 3, exit_price=101.0, pnl=(-1.0) ** k * k, fees=0.1,
        exit_reason=ExitReason.SIGNAL, margin=50.0, symbol="BTCUSDT" if k % 3 else "ETHUSDT",
    )  # fmt: skip
    return base._replace(**fields)


def order(order_id: int, **fields: object) -> OrderRecord:
    base = OrderRecord(
        order_id, 10 * order_id, order_id, OrderSide.BUY, OrderType.LIMIT, 1.5, 99.0, None, 3.0,
        None, 120.0, OrderStatus.FILLED, 20 * order_id, 98.5, 1.5, 0.07, "", "",
    )  # fmt: skip
    return base._replace(**fields)


ORDERS = (
    order(1),
    order(2, limit_price=None, filled_time=None, filled_price=None, reason="not enough cash"),
    order(3, stop_loss=-0.0, reason="not enough cash"),
    order(4, filled_price=math.nan),  # a NaN that is not None stays a NaN
    order(5, amount=1e300, reason='a "quoted", reason'),
)


def test_a_table_reads_back_the_records_it_was_made_of() -> None:
    table = RecordTable.from_records(OrderRecord, ORDERS)
    rows = table.records()
    assert len(table) == len(ORDERS) and len(rows) == len(ORDERS)
    for row, expected in zip(rows, ORDERS, strict=True):
        assert type(row) is OrderRecord
        for value, wanted in zip(row, expected, strict=True):
            assert type(value) is type(wanted)
            assert value == wanted or (value != value and wanted != wanted)  # NaN is NaN
    stop_loss = rows[2].stop_loss
    assert stop_loss is not None and math.copysign(1.0, stop_loss) == -1.0  # -0.0 keeps its sign
    assert rows[1].filled_time is None and rows[3].filled_price is not None


def test_a_table_indexes_slices_and_iterates_as_a_tuple() -> None:
    trades = tuple(trade(k) for k in range(2 * ROW_BLOCK + 5))  # rows made in blocks
    table = RecordTable.from_records(Trade, trades)
    assert table == trades and list(table) == list(trades)
    assert table[0] == trades[0] and table[-1] == trades[-1] and table[-3] == trades[-3]
    part = table[ROW_BLOCK - 2 : ROW_BLOCK + 3]
    assert isinstance(part, RecordTable) and part == trades[ROW_BLOCK - 2 : ROW_BLOCK + 3]
    assert table[::-7] == trades[::-7] and table[5:2] == ()
    assert np.shares_memory(part.values("pnl"), table.values("pnl"))  # a slice is a view
    with pytest.raises(IndexError):
        table[len(trades)]
    assert table != trades[:-1] and table != (*trades[:-1], trade(0))
    assert table != list(trades)  # as a tuple: a list is not equal to it


def test_an_empty_table_equals_the_empty_tuple() -> None:
    empty = RecordTable.empty(Trade)
    assert empty == () and not empty and list(empty) == [] and empty[:3] == ()
    assert empty.values("pnl").dtype == np.float64 and empty.texts("side") == []


def test_columns_are_numbers_codes_and_masks_that_cannot_be_written() -> None:
    table = RecordTable.from_records(OrderRecord, ORDERS)
    assert table.values("id").tolist() == [1, 2, 3, 4, 5]
    assert table.is_missing("limit_price").tolist() == [False, True, False, False, False]
    assert table.is_missing("id").tolist() == [False] * 5  # not optional: never missing
    assert table.texts("status") == ["filled"] * 5  # an enum's member values
    assert table.texts("reason")[1:3] == ["not enough cash"] * 2
    assert table.distinct_texts("reason") == ("", "not enough cash", 'a "quoted", reason')
    assert table.matches("reason", "not enough cash").tolist() == [False, True, True, False, False]
    assert table.matches("side", OrderSide.SELL).tolist() == [False] * 5
    with pytest.raises(ValueError, match="read-only"):
        table.values("amount")[0] = 2.0
    with pytest.raises(KeyError, match="no field 'price'"):
        table.values("price")


def test_concatenated_tables_are_their_records_one_after_another() -> None:
    first = RecordTable.from_records(OrderRecord, ORDERS[:2])
    second = RecordTable.from_records(OrderRecord, ORDERS[2:])
    joined = RecordTable.concat(OrderRecord, [first, (), second])
    assert repr(joined) == repr(RecordTable.from_records(OrderRecord, ORDERS))  # NaN != NaN
    merged = RecordTable.concat(OrderRecord, [second, first])
    assert merged.texts("reason") == [o.reason for o in (*ORDERS[2:], *ORDERS[:2])]


def test_concatenated_by_id_are_sorted_as_sorted_sorts_them() -> None:
    shuffled = [order(5), order(2, reason="b"), order(9), order(2, reason="a"), order(1)]
    batches = [shuffled[:2], RecordTable.from_records(OrderRecord, shuffled[2:])]
    table = RecordTable.concat(OrderRecord, batches, order_by="id")
    assert table == tuple(sorted(shuffled, key=lambda o: o.id))  # stable: "b" before "a"


def test_a_record_type_has_one_column_kind_per_field() -> None:
    kinds = {spec.name: spec.kind for spec in field_specs(OrderRecord)}
    assert kinds["id"] == "int" and kinds["filled_time"] == "optional_int"
    assert kinds["limit_price"] == "optional_float" and kinds["side"] == "enum"
    assert kinds["reason"] == "text"


def test_a_result_holds_any_sequence_of_records_as_a_table() -> None:
    from tests.runs.test_folder import awkward_result

    result = awkward_result()
    assert isinstance(result.trades, RecordTable) and isinstance(result.orders, RecordTable)
    replaced = dataclasses.replace(result, orders=ORDERS, trades=[trade(1)])
    assert isinstance(replaced.orders, RecordTable) and replaced.orders[:3] == ORDERS[:3]
    assert replaced.trades == (trade(1),) and replaced.trades.record_type is Trade
    with pytest.raises(TypeError, match="a table of Trade"):
        RecordTable.from_records(OrderRecord, replaced.trades)
