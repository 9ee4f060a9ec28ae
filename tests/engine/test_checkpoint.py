"""Checkpoints in the engine: a run resumed from any of its checkpoints records exactly what
the uninterrupted run records, and a strategy state outside the contract is refused by name."""

from __future__ import annotations

import json
import math
from dataclasses import fields
from typing import Any, ClassVar

import numpy as np
import pytest

from app.engine import Bar, OrderTicket, ParamValue, RunConfig, Strategy, simulate
from app.engine.broker import Broker
from app.engine.checkpoint import Checkpoint, broker_values
from app.engine.checkpoint_document import checkpoint_from_plain, checkpoint_to_plain
from app.engine.checkpoint_values import declared_state, decode_state, encode_state
from app.engine.errors import CheckpointError
from app.engine.feed import Cursor
from app.engine.logbook import LogSink
from app.engine.orders import Order
from app.engine.plain_records import record_fields
from app.engine.portfolio import Position
from app.engine.results import RunRecord
from app.engine.types import LogLine, OrderRecord, Trade
from tests.engine.randomized import random_market

MODULUS = 2**31 - 1


class StatefulTrader(Strategy):
    """Trades from its own pseudo-random sequence (kept in `seed`), holds its tickets to cancel
    them later, logs, and keeps a bounded window of closes: state of every kind."""

    params: ClassVar[dict[str, ParamValue]] = {"seed": 7}
    state = ("seed", "tickets", "window", "last", "counts")

    def initialize(self) -> None:
        self.sma = self.indicator("sma", length=5)
        self.seed = int(self.params["seed"])
        self.tickets: list[OrderTicket] = []
        self.window: list[float] = []
        self.counts: dict[str, int] = {"buy": 0, "sell": 0}

    def _roll(self) -> float:
        self.seed = (self.seed * 48271) % MODULUS
        return self.seed / MODULUS

    def on_data(self, bar: Bar) -> None:
        self.window = [*self.window[-9:], bar.close]
        self.last = (bar.index, self.data.close[-1])  # a tuple, kept as one
        roll = self._roll()
        if roll < 0.05 and self.tickets:
            self.cancel(self.tickets.pop(0))
        elif roll < 0.15:
            self.close_position(50.0)
        elif roll < 0.4:
            side = "buy" if self._roll() < 0.5 else "sell"
            self.counts[side] += 1
            price = bar.close * (1 + (self._roll() - 0.5) * 0.02)
            order = getattr(self, side)(0.5, leverage=3, limit=price, stop_loss=None)
            if order is not None:
                self.tickets.append(order)
            self.log("placed", side, round(price, 2), len(self.window))


def _config(**values: Any) -> RunConfig:
    return RunConfig(fee_maker=0.0002, fee_taker=0.0005, slippage_bps=2.0, **values)


def _same_record(left: RunRecord, right: RunRecord) -> None:
    for spec in fields(RunRecord):
        if spec.name != "marks":
            assert getattr(left, spec.name) == getattr(right, spec.name), spec.name
    for spec in fields(left.marks):
        assert np.array_equal(getattr(left.marks, spec.name), getattr(right.marks, spec.name))


def _through_json(checkpoint: Checkpoint) -> Checkpoint:
    text = json.dumps(checkpoint_to_plain(checkpoint), allow_nan=False)
    return checkpoint_from_plain(json.loads(text))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_run_resumed_from_any_checkpoint_records_what_the_whole_run_records(seed: int) -> None:
    market = random_market(seed, 420, gap_chance=0.05)
    config = _config(checkpoint_every=60, params=(("seed", seed * 1000 + 1),))
    taken: list[Checkpoint] = []
    whole = simulate(StatefulTrader, market, config, on_checkpoint=taken.append)
    plain = simulate(StatefulTrader, market, _config(params=config.params))
    _same_record(whole, plain)  # taking checkpoints changes nothing
    first = taken[0].bar - 60  # counted from the first bar on_data sees (after the warm-up)
    assert [c.bar for c in taken] == list(range(first + 60, 420, 60))
    assert whole.trades and whole.logs  # the run did trade and log
    for checkpoint in taken:
        resumed = simulate(StatefulTrader, market, config, resume=_through_json(checkpoint))
        _same_record(resumed, whole)


def test_a_resumed_run_takes_the_later_checkpoints_again() -> None:
    market = random_market(5, 300, gap_chance=0.0)
    config = _config(checkpoint_every=50)
    taken: list[Checkpoint] = []
    simulate(StatefulTrader, market, config, on_checkpoint=taken.append)
    again: list[Checkpoint] = []
    simulate(StatefulTrader, market, config, resume=taken[1], on_checkpoint=again.append)
    assert [c.bar for c in again] == [c.bar for c in taken[2:]]
    assert [checkpoint_to_plain(c) for c in again] == [checkpoint_to_plain(c) for c in taken[2:]]


class Undeclared(Strategy):
    def initialize(self) -> None:
        self.count = 0

    def on_data(self, bar: Bar) -> None:
        self.count += 1


class ParamsChanged(Strategy):
    params: ClassVar[dict[str, ParamValue]] = {"size": 1.0}

    def on_data(self, bar: Bar) -> None:
        self.params["size"] = bar.close


class NumpyState(Strategy):
    state = ("level",)

    def on_data(self, bar: Bar) -> None:
        self.level = np.float64(bar.close)


class SetState(Strategy):
    state = ("seen",)

    def on_data(self, bar: Bar) -> None:
        self.seen = {bar.index}


class HugeState(Strategy):
    state = ("history",)

    def initialize(self) -> None:
        self.history: list[int] = []

    def on_data(self, bar: Bar) -> None:
        self.history.extend(range(5_000))


@pytest.mark.parametrize(
    ("strategy", "words"),
    [
        (Undeclared, ["attribute `count`", "not listed in `state`", 'state = ("count"']),
        (ParamsChanged, ["`self.params` changed after initialize()", "`state`"]),
        (NumpyState, ["state attribute `level`", "numpy.float64", "float(...)"]),
        (SetState, ["state attribute `seen`", "set", "sorted list"]),
        (HugeState, ["state attribute `history`", "100,000 values"]),
    ],
)
def test_state_outside_the_contract_is_refused_by_name(
    strategy: type[Strategy], words: list[str]
) -> None:
    market = random_market(1, 120, gap_chance=0.0)
    with pytest.raises(CheckpointError) as raised:
        simulate(strategy, market, _config(checkpoint_every=30), on_checkpoint=lambda c: None)
    for word in words:
        assert word in str(raised.value)


def test_state_is_checked_only_when_checkpoints_are_taken() -> None:
    market = random_market(1, 60, gap_chance=0.0)
    record = simulate(SetState, market, _config(checkpoint_every=30))  # nobody takes them
    assert record.start == 0


@pytest.mark.parametrize(
    "declared", [("a", 3), "counter", ("__dict__",), ("params",), ("not a name",)]
)
def test_a_bad_state_declaration_is_refused(declared: object) -> None:
    strategy = type("Declares", (Strategy,), {"state": declared})
    with pytest.raises(CheckpointError, match="state"):
        declared_state(strategy)


def test_values_come_back_with_their_types_and_sharing() -> None:
    shared = [1, 2.5, "x"]
    values: dict[str, object] = {
        "a": shared,
        "b": {"nested": (None, True, -0.0, math.inf, (1, "y")), 3: shared, (1, 2): [[]]},
        "c": shared,
        "d": math.nan,
        "e": 10**40,
    }
    encoded = json.loads(json.dumps(encode_state(values)))
    back = decode_state(encoded)
    assert back["a"] == shared and back["a"] is back["c"]
    assert back["b"] == values["b"] and back["b"][3] is back["a"]  # type: ignore[index]
    nested = back["b"]["nested"]  # type: ignore[index]
    assert type(nested) is tuple and math.copysign(1.0, nested[2]) == -1.0
    assert math.isnan(back["d"])  # type: ignore[arg-type]
    assert back["e"] == 10**40


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("line\nbreak", "printable"),
        ("x" * 10_001, "10,000"),
        ({frozenset(): 1}, "key of type frozenset"),
        (object(), "a object"),
    ],
)
def test_values_outside_the_contract_are_refused(value: object, words: str) -> None:
    with pytest.raises(CheckpointError, match="state attribute `v`") as raised:
        encode_state({"v": value})
    assert words in str(raised.value)


def test_a_value_that_holds_itself_is_refused() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(CheckpointError, match="holds itself"):
        encode_state({"v": loop})


@pytest.mark.parametrize(
    "document",
    [
        {"nodes": [["list", [0]]], "roots": {"v": 0}},  # a list holding itself
        {"nodes": [["list", [1]], ["int", 1]], "roots": {"v": 0}},  # an item after it
        {"nodes": [["float", "1e999"]], "roots": {"v": 0}},
        {"nodes": [["str", "a\u0000"]], "roots": {"v": 0}},
        {"nodes": [["none"]], "roots": {"v": 1}},
        {"nodes": [["code", "print"]], "roots": {"v": 0}},
        {"nodes": [["none"]], "roots": {"_context": 0}},
        {"nodes": [["int", 1], ["dict", [0]]], "roots": {"v": 1}},
        {"nodes": [["ticket", [1, "buy"]]], "roots": {"v": 0}},
    ],
)
def test_a_state_document_the_engine_did_not_write_is_refused(document: object) -> None:
    with pytest.raises(CheckpointError):
        decode_state(document)


def test_every_record_and_broker_attribute_has_a_plain_encoding() -> None:
    for cls in (Order, Position, Trade, OrderRecord, LogLine, OrderTicket):
        assert record_fields(cls)  # TypeError for a field with no plain encoding
    market = random_market(2, 80, gap_chance=0.0)
    taken: list[Checkpoint] = []
    simulate(StatefulTrader, market, _config(checkpoint_every=20), on_checkpoint=taken.append)
    kept = taken[0].engine.broker
    assert kept and all(
        isinstance(value, int | float | bool | str | None) for value in kept.values()
    )
    fresh = Broker(market, _config(), LogSink(10, Cursor(), market.time, 0))
    assert set(broker_values(fresh)) == set(kept)  # TypeError for a broker attribute not plain
