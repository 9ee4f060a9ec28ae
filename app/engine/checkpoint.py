"""Checkpoints of a run in progress: the engine's state after a bar as plain data, and the
same state put back into a freshly built run, so the loop continues as if never stopped.

A checkpoint taken after bar t holds what the loop cannot rebuild from its inputs: the
account (cash, the position, fees, funding, liquidations), the working orders and the next
order id, the broker's scheduling marks, the record caps, the log's counters, the records so
far (trades, ended orders, log lines, account marks) and the strategy's declared state
(app.engine.checkpoint_values). Indicators, timeframes and the data views are rebuilt by
running `initialize()` again: it is deterministic, and restoring overwrites whatever else it
did (its log lines, its refused orders). The loop then starts at bar `bar` = t + 1.

An attribute the strategy changes after `initialize()` without declaring it in `state` would
not survive a resume, so taking a checkpoint refuses it, naming the attribute: every
undeclared attribute must still hold what it held when `initialize()` returned.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Final

from app.engine.broker import Broker
from app.engine.checkpoint_values import (
    declared_state,
    decode_state,
    encode_state,
)
from app.engine.errors import CheckpointError
from app.engine.feed import DataView, SeriesView
from app.engine.indicators import IndicatorFrame
from app.engine.logbook import LogSink
from app.engine.orders import Order
from app.engine.portfolio import Position
from app.engine.results import EquityLedger
from app.engine.timeframes import TimeframeView
from app.engine.types import LogLine, OrderRecord, Trade

Mark = tuple[int, float, float, float, float]
"""One account mark: bar index, cash, margin, signed size, entry price."""

BROKER_DERIVED: Final = frozenset(
    {
        "market",
        "times",
        "_opens",
        "_highs",
        "_lows",
        "_closes",
        "_mark_opens",
        "_mark_lows",
        "_mark_highs",
        "_trigger_lows",
        "_trigger_highs",
        "config",
        "portfolio",
        "fees",
        "log",
        "records",
        "book",
        "next_order_id",
        "working",
        "finished",
        "trades",
        "funding",
        "funding_bars",
        "_ranges",
    }
)
"""Broker attributes rebuilt from the run's inputs, or aliases of kept state; so is every
memoryview (the broker's read-only views of the market's columns). Every other attribute of
the broker is its own state (`next_work`, the exit triggers, ...), kept in
EngineState.broker; it must hold a plain number, bool, text or None
(`tests/engine/test_checkpoint.py` holds new ones to that)."""
BrokerValue = int | float | bool | str | None
_VIEW_TYPES: Final = (SeriesView, IndicatorFrame, TimeframeView, DataView)


@dataclass(frozen=True, slots=True)
class EngineState:
    """The account, the book and the counters after a bar (what `initialize()` cannot
    rebuild). `exceeded` is the record cap first exceeded, if any (app.engine.caps)."""

    cash: float
    fees_paid: float
    funding_paid: float
    liquidations: int
    position: Position
    working: tuple[Order, ...]
    next_order_id: int
    broker: dict[str, BrokerValue]  # the broker's own scalar state, by attribute name
    exceeded: tuple[str, int] | None
    logs_dropped: int
    log_chars: int
    is_log_capped: bool


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The run after bar `bar` - 1: everything the loop needs to continue at bar `bar`."""

    bar: int
    engine: EngineState
    strategy: dict[str, Any]  # the declared state's node table (checkpoint_values)
    trades: tuple[Trade, ...]
    orders: tuple[OrderRecord, ...]  # ended orders, in the order they ended
    logs: tuple[LogLine, ...]
    marks: tuple[Mark, ...]


class StateBaseline:
    """What each undeclared attribute of the strategy held when `initialize()` returned, to
    refuse a checkpoint of a strategy that changed one later (it would not be restored)."""

    def __init__(self, strategy: object, declared: tuple[str, ...]) -> None:
        self._declared = frozenset(declared)
        self._held = self._fingerprints(strategy)

    def _fingerprints(self, strategy: object) -> dict[str, object]:
        found: dict[str, object] = {}
        for name, value in instance_attributes(strategy).items():
            if name in self._declared or name == "_context":
                continue
            found[name] = _fingerprint(value)
        return found

    def check(self, strategy: object) -> None:
        """CheckpointError naming the first undeclared attribute set, changed or deleted
        since `initialize()`."""
        now = self._fingerprints(strategy)
        for name in sorted(set(now) | set(self._held)):
            if name not in self._held:
                what = "was set after initialize()"
            elif name not in now:
                what = "was deleted after initialize()"
            elif now[name] != self._held[name]:
                what = "changed after initialize()"
            else:
                continue
            if name == "params":  # the run's own: rebuilt from its config, never kept
                raise CheckpointError(
                    "`self.params` changed after initialize(); a resumed run starts from the "
                    "run's params again, so keep changing values in an attribute listed in "
                    "`state` instead"
                )
            raise CheckpointError(
                f"attribute `{name}` {what} but is not listed in `state`, so a resumed run "
                f'would lose it; declare it: state = ("{name}", ...)'
            )


def _fingerprint(value: object) -> object:
    """Equal while the value is unchanged: a view by identity, plain data by its encoding,
    anything else by identity (an object changed in place is not seen: see docs/engine.md)."""
    if isinstance(value, _VIEW_TYPES):
        return ("view", id(value))
    try:
        encoded = encode_state({"value": value})
    except CheckpointError:
        return ("object", id(value))
    return ("plain", json.dumps(encoded, sort_keys=True))


def instance_attributes(strategy: object) -> dict[str, object]:
    """The strategy instance's own attributes (its `__dict__`, read without running any of
    its code)."""
    attributes: dict[str, object] = object.__getattribute__(strategy, "__dict__")
    return attributes


def take_checkpoint(
    strategy: object,
    declared: tuple[str, ...],
    baseline: StateBaseline,
    broker: Broker,
    log: LogSink,
    ledger: EquityLedger,
    next_bar: int,
    marks: MarkRows | None = None,
) -> Checkpoint:
    """The run as it stands after bar `next_bar` - 1 (CheckpointError when the strategy's
    state breaks the contract). `marks` reads the ledger's marks incrementally (a run's
    schedule keeps one, so a checkpoint costs the marks made since the previous one)."""
    baseline.check(strategy)
    attributes = instance_attributes(strategy)
    state = encode_state({name: attributes[name] for name in declared if name in attributes})
    rows = marks.rows() if marks is not None else MarkRows(ledger).rows()
    return Checkpoint(
        bar=next_bar,
        engine=_engine_state(broker, log),
        strategy=state,
        trades=tuple(broker.trades),
        orders=tuple(broker.finished),
        logs=tuple(log.lines),
        marks=rows,
    )


class MarkRows:
    """The ledger's account marks as Mark rows, built once each: a mark before the current
    bar never changes again (only the newest one may be replaced), so each call converts the
    marks made since the previous call, the newest one again."""

    def __init__(self, ledger: EquityLedger) -> None:
        self._ledger = ledger
        self._rows: list[Mark] = []

    def rows(self) -> tuple[Mark, ...]:
        ledger = self._ledger
        begin = max(len(self._rows) - 1, 0)
        del self._rows[begin:]
        # the engine's own ledger, read in place (no array per checkpoint)
        self._rows.extend(
            zip(
                ledger._index[begin:],
                ledger._cash[begin:],
                ledger._margin[begin:],
                ledger._signed_size[begin:],
                ledger._entry[begin:],
                strict=True,
            )
        )
        return tuple(self._rows)


def _engine_state(broker: Broker, log: LogSink) -> EngineState:
    portfolio = broker.portfolio
    position = portfolio.position
    return EngineState(
        cash=portfolio.cash,
        fees_paid=portfolio.fees_paid,
        funding_paid=portfolio.funding_paid,
        liquidations=portfolio.liquidations,
        position=replace(position),  # copies: the run goes on changing its own
        working=tuple(replace(order) for order in broker.working),
        next_order_id=broker.book._next_id,  # the engine's own snapshot of its own book
        broker=broker_values(broker),
        exceeded=broker.records.exceeded,
        logs_dropped=log.dropped,
        log_chars=log.kept_chars,
        is_log_capped=log._is_full,
    )


def broker_values(broker: Broker) -> dict[str, BrokerValue]:
    """The broker's own state: its attributes not in BROKER_DERIVED (TypeError for one that
    holds anything but a plain scalar: a programming error the engine's tests catch)."""
    values: dict[str, BrokerValue] = {}
    for name, value in vars(broker).items():
        if name in BROKER_DERIVED or type(value) is memoryview:  # a view of the market data
            continue
        if value is not None and type(value) not in (int, float, bool, str):
            raise TypeError(
                f"Broker.{name} holds a {type(value).__name__}: list it in BROKER_DERIVED "
                "or keep it in EngineState"
            )
        values[name] = value
    return values


def restore_checkpoint(
    checkpoint: Checkpoint,
    strategy: object,
    declared: tuple[str, ...],
    broker: Broker,
    log: LogSink,
    ledger: EquityLedger,
) -> None:
    """Put `checkpoint` into a run whose `initialize()` has just returned: the account, the
    orders, the records, the log, the account marks (into `ledger`, which holds only the
    run's first mark) and the strategy's declared attributes (one declared but absent from
    the checkpoint is removed, as it was not set then)."""
    engine = checkpoint.engine
    portfolio = broker.portfolio
    portfolio.cash = engine.cash
    portfolio.fees_paid = engine.fees_paid
    portfolio.funding_paid = engine.funding_paid
    portfolio.liquidations = engine.liquidations
    portfolio.position = replace(engine.position)
    broker.working[:] = [replace(order) for order in engine.working]
    broker.book._next_id = engine.next_order_id
    own = broker_values(broker)
    if set(own) != set(engine.broker):
        raise CheckpointError("the checkpoint's broker state does not fit this engine")
    for name, value in engine.broker.items():
        setattr(broker, name, value)
    broker.records.exceeded = engine.exceeded
    broker.finished[:] = checkpoint.orders
    broker.trades[:] = checkpoint.trades
    log.lines[:] = checkpoint.logs
    log.dropped, log.kept_chars, log._is_full = (
        engine.logs_dropped,
        engine.log_chars,
        engine.is_log_capped,
    )
    for mark in checkpoint.marks:  # the first is at the run's first bar: it replaces that one
        ledger.mark(*mark)
    _restore_strategy(checkpoint.strategy, strategy, declared)


def _restore_strategy(state: dict[str, Any], strategy: object, declared: tuple[str, ...]) -> None:
    values = decode_state(state)
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise CheckpointError(
            f"the checkpoint keeps attribute `{unknown[0]}`, which this strategy's `state` "
            "does not declare"
        )
    attributes = instance_attributes(strategy)
    for name in declared:
        if name in values:
            attributes[name] = values[name]
        else:
            attributes.pop(name, None)


CheckpointCallback = Callable[[Checkpoint], object]


class CheckpointSchedule:
    """Takes a checkpoint every `every` bars counted from the loop's first bar `origin`, and
    hands it to `send`; the loop asks it where its chunks of bars end."""

    def __init__(
        self, every: int, origin: int, take: Callable[[int], Checkpoint], send: CheckpointCallback
    ) -> None:
        self.every = every
        self.origin = origin
        self._take = take
        self._send = send

    def is_due(self, next_bar: int) -> bool:
        """True when a checkpoint falls between bar `next_bar` - 1 and bar `next_bar`."""
        return (next_bar - self.origin) % self.every == 0

    def after(self, next_bar: int) -> None:
        """Called by the loop between two bars: takes and sends the checkpoint when one is due."""
        if self.is_due(next_bar):
            self._send(self._take(next_bar))


def bar_chunks(
    first: int, stop: int, step: int, origin: int, schedule: CheckpointSchedule | None
) -> Iterator[tuple[int, int]]:
    """[begin, end) chunks of the bars `first` to `stop`: each ends at a multiple of `step`
    bars from `origin` (a progress report) or, with a `schedule`, at a checkpoint."""
    begin = first
    while begin < stop:
        end = origin + ((begin - origin) // step + 1) * step
        if schedule is not None:
            every = schedule.every
            end = min(end, origin + ((begin - origin) // every + 1) * every)
        end = min(end, stop)
        yield begin, end
        begin = end


def start_checkpoints(
    strategy: object,
    broker: Broker,
    log: LogSink,
    ledger: EquityLedger,
    *,
    origin: int,
    every: int,
    resume: Checkpoint | None,
    on_checkpoint: CheckpointCallback | None,
) -> tuple[int, CheckpointSchedule | None]:
    """Called once `initialize()` has returned: restores `resume` when given and sets up the
    schedule of checkpoints (none unless `every` > 0 and someone takes them). Returns the bar
    the loop starts at (`origin`, or the checkpoint's bar) and the schedule."""
    declared = declared_state(type(strategy))
    baseline = StateBaseline(strategy, declared)
    first = origin
    if resume is not None:
        bars = len(broker.market)
        if not origin < resume.bar < bars:
            raise CheckpointError(
                f"the checkpoint continues at bar {resume.bar}, outside this run's bars "
                f"{origin + 1} to {bars - 1}"
            )
        restore_checkpoint(resume, strategy, declared, broker, log, ledger)
        first = resume.bar
    if every <= 0 or on_checkpoint is None:
        return first, None

    marks = MarkRows(ledger)

    def take(next_bar: int) -> Checkpoint:
        return take_checkpoint(strategy, declared, baseline, broker, log, ledger, next_bar, marks)

    return first, CheckpointSchedule(every, origin, take, on_checkpoint)
