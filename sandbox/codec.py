"""Run inputs and results as protocol messages and back, every incoming field checked."""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from app.engine import (
    EquityCurve,
    LogLine,
    MarginTier,
    MarketData,
    Mode,
    OrderRecord,
    Progress,
    RunConfig,
    RunResult,
    Trade,
)
from app.engine.loop import PROGRESS_LOG_LINES
from sandbox.errors import ProtocolError

MARKET_ARRAYS: Final = (
    "time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "funding_times",
    "funding_rates",
)
EQUITY_ARRAYS: Final = tuple(f.name for f in dataclasses.fields(EquityCurve))
MAX_TEXT_CHARS: Final = 10_000


# -------------------------------------------------------------------------------------------
# parent -> worker (trusted direction, still plain data)
# -------------------------------------------------------------------------------------------


def market_arrays(market: MarketData) -> dict[str, npt.NDArray[Any]]:
    """The market's arrays by name, for the job frame."""
    return {name: getattr(market, name) for name in MARKET_ARRAYS}


def market_from_arrays(arrays: Mapping[str, npt.NDArray[Any]], symbol: str) -> MarketData:
    """Rebuild MarketData in the worker (its own validation runs again)."""
    missing = [name for name in MARKET_ARRAYS if name not in arrays]
    if missing:
        raise ProtocolError(f"job is missing arrays: {', '.join(missing)}")
    return MarketData(symbol=symbol, **{name: arrays[name] for name in MARKET_ARRAYS})


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """RunConfig as JSON-ready data."""
    return config.to_dict()


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """RunConfig from `config_to_dict` output."""
    values = dict(data)
    values["mode"] = Mode(values["mode"])
    values["margin_tiers"] = tuple(MarginTier(**tier) for tier in values["margin_tiers"])
    values["params"] = tuple(values["params"].items())
    return RunConfig(**values)


# -------------------------------------------------------------------------------------------
# worker -> parent (untrusted: every value is type-checked)
# -------------------------------------------------------------------------------------------


def record_to_list(record: Any) -> list[Any]:
    """A frozen engine record as a JSON list in field order (enums as their values)."""
    values = []
    for item in dataclasses.fields(record):
        value = getattr(record, item.name)
        values.append(value.value if isinstance(value, enum.Enum) else value)
    return values


Converter = Callable[[object], Any]


@functools.cache
def _field_converters(cls: Hashable) -> tuple[tuple[str, Converter], ...]:
    """(name, checking converter) per field of an engine record, built once per class."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]  # an engine dataclass type
    return tuple((f.name, _converter(hints[f.name], f.name)) for f in fields)


def record_from_list(cls: type[Any], values: object) -> Any:
    """A record of `cls` from `record_to_list` output, refusing any value of the wrong type."""
    fields = _field_converters(typing.cast(Hashable, cls))
    if not isinstance(values, list) or len(values) != len(fields):
        raise ProtocolError(f"{cls.__name__} record has the wrong shape")
    return cls(**{name: convert(v) for (name, convert), v in zip(fields, values, strict=True)})


@functools.cache
def _field_names(cls: Hashable) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]  # dataclass


def records_to_columns(cls: type[Any], records: Sequence[Any]) -> dict[str, list[Any]]:
    """Records of one engine class as JSON-ready columns (one list per field, enums as values)."""
    columns: dict[str, list[Any]] = {}
    for name in _field_names(typing.cast(Hashable, cls)):
        values = [getattr(record, name) for record in records]
        if values and isinstance(values[0], enum.Enum):
            values = [v.value if isinstance(v, enum.Enum) else v for v in values]
        columns[name] = values
    return columns


def records_from_columns(cls: type[Any], columns: object) -> tuple[Any, ...]:
    """Records of `cls` from `records_to_columns` output; every value is type-checked."""
    fields = _field_converters(typing.cast(Hashable, cls))
    if not isinstance(columns, dict) or set(columns) != {name for name, _ in fields}:
        raise ProtocolError(f"{cls.__name__} columns do not match its fields")
    lengths = {len(c) if isinstance(c, list) else -1 for c in columns.values()}
    if len(lengths) > 1 or -1 in lengths:
        raise ProtocolError(f"{cls.__name__} columns differ in length")
    checked = [_checked_column(columns[name], convert) for name, convert in fields]
    return tuple(cls(*row) for row in zip(*checked, strict=True))


def _checked_column(values: list[Any], convert: Converter) -> list[Any]:
    kind = getattr(convert, "exact_type", None)
    if (
        kind is not None
        and all(type(v) is kind for v in values)
        and (kind is not str or all(len(v) <= MAX_TEXT_CHARS for v in values))
    ):
        return values
    return [convert(v) for v in values]


def _refuse(name: str) -> ProtocolError:
    return ProtocolError(f"field '{name}' has an invalid value")


def _converter(hint: Any, name: str) -> Converter:  # noqa: C901  (one branch per field type)
    """A function checking and converting one JSON value to the field type `hint`."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        inner = _converter(next(o for o in typing.get_args(hint) if o is not type(None)), name)
        return lambda value: None if value is None else inner(value)
    if hint is float:

        def to_float(value: object) -> float:
            if isinstance(value, int | float) and not isinstance(value, bool):
                return float(value)
            raise _refuse(name)

        to_float.exact_type = float  # type: ignore[attr-defined]  # fast path for columns
        return to_float
    if hint is int or hint is bool:

        def to_exact(value: object) -> Any:
            if type(value) is hint:
                return value
            raise _refuse(name)

        to_exact.exact_type = hint  # type: ignore[attr-defined]  # fast path for columns
        return to_exact
    if hint is str:

        def to_text(value: object) -> str:
            if isinstance(value, str) and len(value) <= MAX_TEXT_CHARS:
                return value
            raise _refuse(name)

        to_text.exact_type = str  # type: ignore[attr-defined]  # fast path for columns
        return to_text
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        members = {member.value: member for member in hint}

        def to_member(value: object) -> Any:
            try:
                return members[value]
            except (KeyError, TypeError):
                raise _refuse(name) from None

        return to_member
    raise TypeError(f"no converter for field '{name}' of type {hint!r}")


def _coerce(value: object, hint: Any, name: str) -> Any:
    return _converter(hint, name)(value)


def progress_body(progress: Progress) -> dict[str, Any]:
    """A Progress event as a `progress` message body: its numbers and its new log lines."""
    return {
        "progress": [progress.bars_done, progress.bars_total, progress.time, progress.equity],
        "logs": records_to_columns(LogLine, progress.logs),
    }


def progress_from_body(body: Mapping[str, Any]) -> Progress:
    """A Progress event from an untrusted worker message (at most PROGRESS_LOG_LINES lines)."""
    values = body.get("progress")
    if not isinstance(values, list) or len(values) != 4:
        raise ProtocolError("progress record has the wrong shape")
    logs = records_from_columns(LogLine, body.get("logs"))
    if len(logs) > PROGRESS_LOG_LINES:
        raise ProtocolError("a progress message carries too many log lines")
    return Progress(
        bars_done=_coerce(values[0], int, "bars_done"),
        bars_total=_coerce(values[1], int, "bars_total"),
        time=_coerce(values[2], int, "time"),
        equity=_coerce(values[3], float, "equity"),
        logs=logs,
    )


def result_body(result: RunResult) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """A RunResult as a `result` message body and its equity arrays."""
    body = {
        "type": "result",
        "strategy": result.strategy,
        "params": result.params,
        "bars_total": result.bars_total,
        "trades": records_to_columns(Trade, result.trades),
        "orders": records_to_columns(OrderRecord, result.orders),
        "logs": records_to_columns(LogLine, result.logs),
        "logs_dropped": result.logs_dropped,
        "metrics": result.metrics,
        "price_source": result.price_source,
    }
    arrays = {f"equity_{name}": getattr(result.equity, name) for name in EQUITY_ARRAYS}
    return body, arrays


def result_from_frame(
    body: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]], config: RunConfig
) -> RunResult:
    """Rebuild a RunResult from an untrusted worker message; `config` is the parent's own."""
    curve = _equity_from_arrays(arrays)
    return RunResult(
        strategy=_coerce(body.get("strategy"), str, "strategy"),
        params=_params(body.get("params")),
        config=config,
        bars_total=_coerce(body.get("bars_total"), int, "bars_total"),
        equity=curve,
        trades=records_from_columns(Trade, body.get("trades")),
        orders=records_from_columns(OrderRecord, body.get("orders")),
        logs=records_from_columns(LogLine, body.get("logs")),
        logs_dropped=_coerce(body.get("logs_dropped"), int, "logs_dropped"),
        metrics=_metrics(body.get("metrics")),
        price_source=_coerce(body.get("price_source"), str, "price_source"),
    )


def _equity_from_arrays(arrays: Mapping[str, npt.NDArray[Any]]) -> EquityCurve:
    columns = {}
    for name in EQUITY_ARRAYS:
        array = arrays.get(f"equity_{name}")
        if array is None:
            raise ProtocolError(f"result is missing the equity column '{name}'")
        columns[name] = array
    lengths = {len(a) for a in columns.values()}
    if len(lengths) != 1:
        raise ProtocolError("equity columns differ in length")
    columns["time"] = columns["time"].astype(np.int64)
    return EquityCurve(**columns)


def _list(value: object) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError("expected a list in the result")
    return value


def _params(value: object) -> dict[str, bool | int | float | str]:
    if not isinstance(value, dict):
        raise ProtocolError("params must be an object")
    for key, item in value.items():
        if not isinstance(item, bool | int | float | str) or len(key) > 200:
            raise ProtocolError(f"param '{key[:50]}' has an invalid value")
    return value


def _metrics(value: object) -> dict[str, float | int | str | None]:
    if not isinstance(value, dict):
        raise ProtocolError("metrics must be an object")
    for key, item in value.items():
        if item is not None and not isinstance(item, int | float | str):
            raise ProtocolError(f"metric '{key[:50]}' has an invalid value")
        if isinstance(item, str) and len(item) > MAX_TEXT_CHARS:
            raise ProtocolError(f"metric '{key[:50]}' is too long")
    return value


def is_finite_number(value: object) -> bool:
    """True for an int or float that is finite (bools excluded)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
