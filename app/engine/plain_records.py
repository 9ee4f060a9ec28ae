"""Engine records as plain JSON values and back, typed by their own annotations: the named
tuples a run produces (trades, order records, log lines, order tickets) and the engine's
mutable dataclasses (a working order, the position).

A record is a JSON list of its fields in declaration order. Each field's annotation decides
its encoding: int, float, str and bool as themselves (a non-finite float as "nan", "inf" or
"-inf"), an enum as its value, `X | None` as X or null. Reading checks every field against
its annotation and raises CheckpointError naming the record and the field, so what a worker
sent or a file held becomes a record only when the engine could have written it.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
import types
import typing
from typing import Any, Final

from app.engine.errors import CheckpointError

_NON_FINITE: Final = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_PLAIN: Final = (int, float, str, bool)


def record_fields(cls: type) -> tuple[tuple[str, type, bool], ...]:
    """(name, type, is_optional) per field of a named tuple or dataclass `cls`; TypeError for
    a field no plain encoding exists for (a programming error, caught by the tests)."""
    return _record_fields(cls)


@functools.cache
def _record_fields(cls: Any) -> tuple[tuple[str, type, bool], ...]:
    hints = typing.get_type_hints(cls)
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
    else:
        names = list(getattr(cls, "_fields"))  # noqa: B009  (a NamedTuple)
    found: list[tuple[str, type, bool]] = []
    for name in names:
        hint = hints[name]
        args = typing.get_args(hint)
        optional = isinstance(hint, types.UnionType) and type(None) in args
        inner = next(a for a in args if a is not type(None)) if optional else hint
        if not (inner in _PLAIN or (isinstance(inner, type) and issubclass(inner, enum.Enum))):
            raise TypeError(f"{cls.__name__}.{name}: no plain encoding for {hint!r}")
        found.append((name, inner, optional))
    return tuple(found)


def to_plain(record: object) -> list[Any]:
    """`record`'s fields as JSON values, in declaration order."""
    values: list[Any] = []
    for name, _kind, _optional in record_fields(type(record)):
        value = getattr(record, name)
        if isinstance(value, enum.Enum):
            values.append(value.value)
        elif type(value) is float and not math.isfinite(value):
            values.append(repr(value))
        else:
            values.append(value)
    return values


def from_plain[R](cls: type[R], values: object) -> R:
    """The `cls` record `to_plain` wrote as `values`; CheckpointError for anything else."""
    spec = record_fields(cls)
    if not isinstance(values, list) or len(values) != len(spec):
        raise CheckpointError(f"a {cls.__name__} record has the wrong number of fields")
    typed = [
        _field(cls.__name__, name, kind, optional, value)
        for (name, kind, optional), value in zip(spec, values, strict=True)
    ]
    return cls(*typed)


def _field(record: str, name: str, kind: type, optional: bool, value: object) -> object:
    if value is None and optional:
        return None
    if issubclass(kind, enum.Enum):
        try:
            return kind(value)
        except ValueError:
            pass
    elif type(value) is kind:
        return value
    elif kind is float and type(value) is int:  # JSON may write 2.0 as 2
        return float(value)
    elif kind is float and type(value) is str and value in _NON_FINITE:
        return _NON_FINITE[value]
    raise CheckpointError(f"field {record}.{name} holds a value of the wrong type")
