"""Exceptions the engine raises for broken input; refusals inside a run are events, not these."""

from __future__ import annotations


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
    """An indicator request names no pandas-ta indicator, has bad arguments, or would look ahead."""


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
