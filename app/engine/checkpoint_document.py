"""A Checkpoint as plain JSON data and back, every field checked on the way in.

The parent builds checkpoint files from what a worker sent and reads them back after a
crash: neither source is trusted, so `checkpoint_from_plain` accepts only what
`checkpoint_to_plain` could have written (each record typed by its annotations, the
strategy's state through its node table, the account marks ascending and before the bar)
and raises CheckpointError naming the part that is not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from app.engine.checkpoint import BrokerValue, Checkpoint, EngineState, Mark
from app.engine.checkpoint_values import decode_state
from app.engine.errors import CheckpointError
from app.engine.orders import Order
from app.engine.plain_records import from_plain, to_plain
from app.engine.portfolio import Position
from app.engine.types import LogLine, OrderRecord, Trade

ENGINE_KEYS: Final = frozenset(
    {
        "cash",
        "fees_paid",
        "funding_paid",
        "liquidations",
        "position",
        "working",
        "next_order_id",
        "broker",
        "exceeded",
        "logs_dropped",
        "log_chars",
        "is_log_capped",
    }
)
CHECKPOINT_KEYS: Final = frozenset(
    {"bar", "engine", "strategy", "trades", "orders", "logs", "marks"}
)


def engine_to_plain(engine: EngineState) -> dict[str, Any]:
    """`engine` as JSON-ready data."""
    return {
        "cash": engine.cash,
        "fees_paid": engine.fees_paid,
        "funding_paid": engine.funding_paid,
        "liquidations": engine.liquidations,
        "position": to_plain(engine.position),
        "working": [to_plain(order) for order in engine.working],
        "next_order_id": engine.next_order_id,
        "broker": {name: _plain_scalar(value) for name, value in engine.broker.items()},
        "exceeded": list(engine.exceeded) if engine.exceeded is not None else None,
        "logs_dropped": engine.logs_dropped,
        "log_chars": engine.log_chars,
        "is_log_capped": engine.is_log_capped,
    }


def engine_from_plain(data: object) -> EngineState:
    """The EngineState `engine_to_plain` described; CheckpointError otherwise."""
    if not isinstance(data, dict) or set(data) != ENGINE_KEYS:
        raise CheckpointError("the engine state does not have the fields a checkpoint keeps")
    working = data["working"]
    if not isinstance(working, list):
        raise CheckpointError("the engine state's working orders are not a list")
    return EngineState(
        cash=_finite(data["cash"], "cash"),
        fees_paid=_finite(data["fees_paid"], "fees_paid"),
        funding_paid=_finite(data["funding_paid"], "funding_paid"),
        liquidations=_count(data["liquidations"], "liquidations"),
        position=from_plain(Position, data["position"]),
        working=tuple(from_plain(Order, order) for order in working),
        next_order_id=_count(data["next_order_id"], "next_order_id"),
        broker=_broker(data["broker"]),
        exceeded=_exceeded(data["exceeded"]),
        logs_dropped=_count(data["logs_dropped"], "logs_dropped"),
        log_chars=_count(data["log_chars"], "log_chars"),
        is_log_capped=_flag(data["is_log_capped"], "is_log_capped"),
    )


def checkpoint_to_plain(checkpoint: Checkpoint) -> dict[str, Any]:
    """`checkpoint` as JSON-ready data (records as lists of their fields)."""
    return {
        "bar": checkpoint.bar,
        "engine": engine_to_plain(checkpoint.engine),
        "strategy": checkpoint.strategy,
        "trades": [to_plain(trade) for trade in checkpoint.trades],
        "orders": [to_plain(order) for order in checkpoint.orders],
        "logs": [to_plain(line) for line in checkpoint.logs],
        "marks": [list(mark) for mark in checkpoint.marks],
    }


def checkpoint_from_plain(data: object) -> Checkpoint:
    """The Checkpoint `checkpoint_to_plain` described; CheckpointError naming what is wrong."""
    if not isinstance(data, Mapping) or set(data) != CHECKPOINT_KEYS:
        raise CheckpointError("the checkpoint does not have the parts a checkpoint has")
    bar = _count(data["bar"], "bar")
    decode_state(data["strategy"])  # checked whole here; rebuilt where the run resumes
    return Checkpoint(
        bar=bar,
        engine=engine_from_plain(data["engine"]),
        strategy=data["strategy"],
        trades=_records(Trade, data["trades"]),
        orders=_records(OrderRecord, data["orders"]),
        logs=_records(LogLine, data["logs"]),
        marks=marks_from_plain(data["marks"], bar),
    )


def marks_from_plain(data: object, bar: int) -> tuple[Mark, ...]:
    """Account marks: [index, cash, margin, signed size, entry price] rows, indices
    ascending and before `bar`, numbers finite; CheckpointError otherwise."""
    if not isinstance(data, list) or not data:
        raise CheckpointError("the checkpoint's account marks are missing")
    marks: list[Mark] = []
    previous = -1
    for row in data:
        if not isinstance(row, list) or len(row) != 5:
            raise CheckpointError("an account mark does not have five fields")
        index = _count(row[0], "mark index")
        if not previous < index < bar:
            raise CheckpointError("the account marks are not ascending bars before the checkpoint")
        previous = index
        cash, margin, size, entry = (_finite(value, "mark") for value in row[1:])
        marks.append((index, cash, margin, size, entry))
    return tuple(marks)


def _records[R](cls: type[R], rows: object) -> tuple[R, ...]:
    if not isinstance(rows, list):
        raise CheckpointError(f"the checkpoint's {cls.__name__} records are not a list")
    return tuple(from_plain(cls, row) for row in rows)


def _finite(value: object, name: str) -> float:
    if isinstance(value, int | float) and type(value) is not bool and math.isfinite(value):
        return float(value)
    raise CheckpointError(f"the checkpoint's {name} is not a finite number")


def _count(value: object, name: str) -> int:
    if type(value) is int and value >= 0:
        return value
    raise CheckpointError(f"the checkpoint's {name} is not a count")


def _flag(value: object, name: str) -> bool:
    if type(value) is bool:
        return value
    raise CheckpointError(f"the checkpoint's {name} is not true or false")


def _plain_scalar(value: BrokerValue) -> BrokerValue:
    if type(value) is float and not math.isfinite(value):
        return repr(value)  # JSON has no infinity; read back by _broker
    return value


_NON_FINITE: Final = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _broker(data: object) -> dict[str, BrokerValue]:
    if not isinstance(data, dict) or len(data) > 100:
        raise CheckpointError("the checkpoint's broker state is malformed")
    values: dict[str, BrokerValue] = {}
    for name, value in data.items():
        if type(name) is not str or not name.isidentifier():
            raise CheckpointError("the checkpoint's broker state is malformed")
        if value is not None and type(value) not in (int, float, bool, str):
            raise CheckpointError(f"the checkpoint's broker state {name} is not plain")
        values[name] = _NON_FINITE.get(value, value) if type(value) is str else value
    return values


def _exceeded(value: object) -> tuple[str, int] | None:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and value[0] in ("orders", "trades")
        and type(value[1]) is int
    ):
        return value[0], value[1]
    raise CheckpointError("the checkpoint's record cap is malformed")
