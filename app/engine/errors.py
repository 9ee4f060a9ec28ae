"""Exceptions the engine raises for broken input; refusals inside a run are events, not these."""

from __future__ import annotations

from app.engine.events import RejectReason
from app.engine.types import OrderStatus


class EngineError(Exception):
    """Base of every engine exception: the caller cannot run the backtest as asked."""


class ConfigError(EngineError):
    """A run-configuration field holds a value the engine cannot use."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class MarketDataError(EngineError):
    """Market data is unusable: missing columns, unsorted times, non-finite or bad prices."""


class StrategyDefinitionError(EngineError):
    """The strategy class is unusable: unknown or mistyped parameter, missing method."""


class IndicatorError(EngineError):
    """An indicator request names no pandas-ta indicator, has bad arguments, or would look ahead.

    A refused setting carries `indicator`, `setting` and `allowed` (what the indicator takes:
    its setting names, or the rule the setting follows, in words); they are None otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        indicator: str | None = None,
        setting: str | None = None,
        allowed: str | None = None,
    ) -> None:
        super().__init__(message)
        self.indicator = indicator
        self.setting = setting
        self.allowed = allowed


class TooFewBarsError(IndicatorError):
    """pandas-ta computes nothing on so few bars (fewer than the indicator's warm-up needs).

    Caught inside the engine: on the run's data it means the indicator has no value yet at any
    bar; on a prefix cut for the look-ahead check, that the cut is passed over.
    """

    def __init__(self, indicator: str, bars: int) -> None:
        super().__init__(f"{indicator} needs more bars than the {bars} given", indicator=indicator)
        self.bars = bars


class StrategyRuntimeError(EngineError):
    """The strategy's own code raised while the run was going; the run stops at that bar."""

    def __init__(
        self,
        *,
        exc_type: str,
        message: str,
        bar_index: int | None,
        bar_time: str | None,
        phase: str,
    ) -> None:
        where = f" at bar {bar_index} ({bar_time})" if bar_index is not None else ""
        super().__init__(f"{exc_type}: {message} (in {phase}{where})")
        self.exc_type = exc_type
        self.message = message
        self.bar_index = bar_index
        self.bar_time = bar_time
        self.phase = phase


class RecordLimitExceeded(EngineError):  # noqa: N818  (named for what happened)
    """The run recorded more `record` (orders, trades) than its cap allows; the run stops.

    Raised at the first record past `limit`, so a rerun stops at the same record.
    """

    def __init__(self, record: str, limit: int) -> None:
        super().__init__(f"limit exceeded: more than {limit} {record}")
        self.record = record
        self.limit = limit


class OrderStateError(EngineError):
    """An order was asked to move between two statuses its state table does not connect (a bug
    in the engine, never the strategy's doing: the run stops rather than record it)."""

    def __init__(self, order_id: int, current: OrderStatus, target: OrderStatus) -> None:
        super().__init__(f"order #{order_id} cannot go from {current.value} to {target.value}")
        self.order_id = order_id
        self.current = current
        self.target = target


class OrderRequestError(EngineError):
    """A strategy's order request cannot be accepted; `reason` is a `RejectReason` code.

    Raised while a request is checked and caught where it was placed, which records it as an
    `OrderDenied` event; it never reaches the strategy.
    """

    def __init__(self, reason: RejectReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class TimeframeError(EngineError):
    """A timeframe string does not follow the timeframe grammar (`app.engine.timeframes`)."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(message)
        self.text = text
        self.message = message


class CheckpointError(EngineError):
    """A checkpoint cannot be taken or used: the strategy's declared state holds a value
    outside the contract (app.engine.checkpoint_values), or a checkpoint document is not one
    the engine wrote (damaged, changed, or from another run)."""
