"""A run's records (trades, orders) held as one numpy array per field, rows made on demand.

A run at 1,000,000 bars can close ~40,000 trades and end ~80,000 orders. As named tuples
(one Python object per record and one per field) they took ~70 MB of the parent; as columns
they take ~15 MB. `RecordTable` keeps them as columns and still reads as a tuple of the same
records (`len`, indexing, slicing, iteration, `==`), so code that wants a row gets one
(`Trade`, `OrderRecord`), and vectorised code (metrics, the run folder's writers, per-symbol
figures) reads the columns.

Each field's column follows the field's type in the record class:

| field type            | column                                                          |
| --------------------- | --------------------------------------------------------------- |
| `int`                 | int64 values                                                    |
| `float`               | float64 values                                                  |
| `int \\| None`         | int64 values (0 where None) and a bool mask of the Nones        |
| `float \\| None`       | float64 values (NaN where None) and a bool mask of the Nones    |
| an enum               | int64 codes: positions in the enum's members, in definition order |
| `str`                 | int64 codes into the column's distinct texts, in first-seen order |

Columns are read-only: a table never changes once made.
"""

from __future__ import annotations

import enum
import functools
import types
import typing
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, overload

import numpy as np
import numpy.typing as npt

ColumnKind = Literal["int", "float", "optional_int", "optional_float", "enum", "text"]
OPTIONAL_KINDS: Final = frozenset({"optional_int", "optional_float"})
ROW_BLOCK: Final = 4_096
"""Rows made at a time while iterating: the Python objects of one block at most, not a table's."""

Values = npt.NDArray[Any]  # one column: int64 or float64 values, or int64 codes
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one field of a record class is held: its name, its kind and, for an enum field,
    the enum's members in definition order (a code is a position in them)."""

    name: str
    kind: ColumnKind
    members: tuple[enum.Enum, ...] = ()

    @property
    def is_optional(self) -> bool:
        return self.kind in OPTIONAL_KINDS


@functools.cache
def field_specs(record_type: type[tuple[Any, ...]]) -> tuple[FieldSpec, ...]:
    """The column layout of a NamedTuple record class, one FieldSpec per field in order;
    TypeError for a field type without a column (a list, an optional enum, ...)."""
    hints = typing.get_type_hints(record_type)
    specs: list[FieldSpec] = []
    for name in typing.cast(tuple[str, ...], getattr(record_type, "_fields")):  # noqa: B009
        hint = hints[name]
        optional = isinstance(hint, types.UnionType) and type(None) in typing.get_args(hint)
        inner = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
        if inner is int:
            specs.append(FieldSpec(name, "optional_int" if optional else "int"))
        elif inner is float:
            specs.append(FieldSpec(name, "optional_float" if optional else "float"))
        elif isinstance(inner, type) and issubclass(inner, enum.Enum) and not optional:
            specs.append(FieldSpec(name, "enum", tuple(inner)))
        elif inner is str and not optional:
            specs.append(FieldSpec(name, "text"))
        else:
            raise TypeError(f"no column encoding for field '{name}' of type {hint!r}")
    return tuple(specs)


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """`array`, or a view of it, that cannot be written through."""
    if array.flags.writeable:
        array = array.view()
        array.flags.writeable = False
    return array


class RecordTable[R: tuple[Any, ...]](Sequence[R]):
    """Records of one NamedTuple class as columns (see the module docstring for the layout).

    Read it as a tuple of records: `len(t)`, `t[i]` (a record), `t[a:b]` (a table of views),
    `for r in t`, `t == other` (row by row, against a table or a tuple). Read the columns with
    `values`, `is_missing`, `texts` and `matches`. Make one with `from_records` (records in
    hand), `from_columns` (columns already checked, as the sandbox's decoder has them),
    `empty` or `concat`.
    """

    __slots__ = ("_length", "_missing", "_record_type", "_specs", "_texts", "_values")

    def __init__(
        self,
        record_type: type[R],
        values: Mapping[str, Values],
        missing: Mapping[str, Mask] | None = None,
        texts: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        """A table from `values` (every field's column: values, or codes for an enum or a
        text field), `missing` (each optional field's mask of the Nones; none given: no
        Nones) and `texts` (each text field's distinct texts, which its codes index).
        ValueError when a column is missing, of another length or of the wrong dtype; codes
        are trusted to be in range (the decoder checks what comes from a worker)."""
        specs = field_specs(record_type)
        lengths = {len(values[spec.name]) for spec in specs if spec.name in values}
        if len(lengths) > 1 or any(spec.name not in values for spec in specs):
            raise ValueError(f"{record_type.__name__} columns are missing or differ in length")
        length = lengths.pop() if lengths else 0
        missing = missing or {}
        texts = texts or {}
        self._record_type = record_type
        self._specs = specs
        self._length = length
        self._values: dict[str, Values] = {}
        self._missing: dict[str, Mask] = {}
        self._texts: dict[str, tuple[str, ...]] = {}
        for spec in specs:
            column = values[spec.name]
            expected = np.float64 if spec.kind in ("float", "optional_float") else np.int64
            if column.dtype != expected or column.ndim != 1:
                raise ValueError(f"{record_type.__name__} column '{spec.name}' is not {expected}")
            self._values[spec.name] = _frozen(column)
            if spec.is_optional:
                mask = missing.get(spec.name)
                if mask is None:
                    mask = np.zeros(length, dtype=np.bool_)
                if mask.dtype != np.bool_ or len(mask) != length:
                    raise ValueError(f"{record_type.__name__} mask of '{spec.name}' is invalid")
                self._missing[spec.name] = _frozen(mask)
            if spec.kind == "text":
                self._texts[spec.name] = tuple(texts.get(spec.name, ()))

    # -- making tables ---------------------------------------------------------------------

    @classmethod
    def empty(cls, record_type: type[R]) -> RecordTable[R]:
        """A table of no records."""
        return cls.from_records(record_type, ())

    @classmethod
    def from_records(cls, record_type: type[R], records: Iterable[R]) -> RecordTable[R]:
        """The table of `records` (a table is returned as it is). A value of an optional
        field is missing only when it is None (a NaN float stays a NaN)."""
        if isinstance(records, RecordTable):
            if records.record_type is not record_type:
                raise TypeError(f"a table of {records.record_type.__name__}, not of {record_type}")
            return records
        rows = records if isinstance(records, Sequence) else tuple(records)
        specs = field_specs(record_type)
        columns: Sequence[Sequence[Any]] = (
            list(zip(*rows, strict=True)) if rows else [() for _ in specs]
        )
        values: dict[str, Values] = {}
        missing: dict[str, Mask] = {}
        texts: dict[str, tuple[str, ...]] = {}
        for spec, column in zip(specs, columns, strict=True):
            values[spec.name], mask, distinct = _column_of(spec, column)
            if mask is not None:
                missing[spec.name] = mask
            if distinct is not None:
                texts[spec.name] = distinct
        return cls(record_type, values, missing, texts)

    @classmethod
    def from_columns(
        cls,
        record_type: type[R],
        values: Mapping[str, Values],
        missing: Mapping[str, Mask] | None = None,
        texts: Mapping[str, Sequence[str]] | None = None,
    ) -> RecordTable[R]:
        """A table from columns: `values` as for the constructor, but each text field's
        column given as its texts, one per row (`texts[name]`), which are coded here."""
        coded = dict(values)
        distinct: dict[str, tuple[str, ...]] = {}
        for spec in field_specs(record_type):
            if spec.kind == "text":
                coded[spec.name], distinct[spec.name] = _text_codes((texts or {})[spec.name])
        return cls(record_type, coded, missing, distinct)

    @classmethod
    def concat(
        cls, record_type: type[R], tables: Iterable[Sequence[R]], *, order_by: str | None = None
    ) -> RecordTable[R]:
        """The records of `tables` (tables, or sequences of records) one after another; with
        `order_by`, sorted by that number field instead (stably: equal values keep their
        order, as `sorted` keeps them). Built one column at a time, so beside the parts and
        the result at most one column's copy is alive."""
        parts = [cls.from_records(record_type, table) for table in tables]
        parts = [part for part in parts if len(part)] or [cls.empty(record_type)]
        order: npt.NDArray[np.intp] | None = None
        if order_by is not None:
            keys = np.concatenate([part.values(order_by) for part in parts])
            if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():
                order = np.argsort(keys, kind="stable")
            del keys
        if len(parts) == 1 and order is None:
            return parts[0]
        values: dict[str, Values] = {}
        missing: dict[str, Mask] = {}
        texts: dict[str, tuple[str, ...]] = {}
        for spec in field_specs(record_type):
            if spec.kind == "text":
                values[spec.name], texts[spec.name] = _merged_texts(spec.name, parts)
            else:
                values[spec.name] = np.concatenate([part._values[spec.name] for part in parts])
            if spec.is_optional:
                missing[spec.name] = np.concatenate([part._missing[spec.name] for part in parts])
            if order is not None:
                values[spec.name] = values[spec.name][order]
                if spec.is_optional:
                    missing[spec.name] = missing[spec.name][order]
        return cls(record_type, values, missing, texts)

    def take(self, positions: npt.NDArray[np.integer[Any]]) -> RecordTable[R]:
        """The records at `positions` (an integer array), in that order."""
        return RecordTable(
            self._record_type,
            {name: column[positions] for name, column in self._values.items()},
            {name: mask[positions] for name, mask in self._missing.items()},
            self._texts,
        )

    # -- columns ---------------------------------------------------------------------------

    @property
    def record_type(self) -> type[R]:
        return self._record_type

    def values(self, name: str) -> Values:
        """Field `name`'s column (read-only): its values (for an optional field, 0 or NaN
        where None: see `is_missing`), or its codes for an enum or a text field."""
        return self._values[self._spec(name).name]

    def is_missing(self, name: str) -> Mask:
        """Per row, True where optional field `name` is None (all False for another field)."""
        if self._spec(name).is_optional:
            return self._missing[name]
        return np.zeros(self._length, dtype=np.bool_)

    def texts(self, name: str) -> list[str]:
        """Per row, text field `name`'s text, or enum field `name`'s member's value."""
        spec = self._spec(name)
        labels = np.array(self._labels(spec), dtype=object)
        texts: list[str] = labels[self._values[name]].tolist()
        return texts

    def distinct_texts(self, name: str) -> tuple[str, ...]:
        """The texts text field `name` holds (each row's is one of them; there may be more)."""
        spec = self._spec(name)
        if spec.kind != "text":
            raise TypeError(f"field '{name}' of {self._record_type.__name__} holds no text")
        return self._texts[name]

    def matches(self, name: str, value: str | enum.Enum) -> Mask:
        """Per row, True where text or enum field `name` equals `value`."""
        spec = self._spec(name)
        if spec.kind == "enum":
            choices: Sequence[object] = spec.members
        elif spec.kind == "text":
            choices = self._texts[name]
        else:
            raise TypeError(f"field '{name}' of {self._record_type.__name__} is a number")
        codes = [code for code, choice in enumerate(choices) if choice == value]
        return np.isin(self._values[name], codes)

    def _spec(self, name: str) -> FieldSpec:
        for spec in self._specs:
            if spec.name == name:
                return spec
        raise KeyError(f"{self._record_type.__name__} has no field '{name}'")

    def _labels(self, spec: FieldSpec) -> Sequence[str]:
        if spec.kind == "enum":
            return [str(member.value) for member in spec.members]
        if spec.kind == "text":
            return self._texts[spec.name]
        raise TypeError(f"field '{spec.name}' of {self._record_type.__name__} is a number")

    # -- rows ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> R: ...

    @overload
    def __getitem__(self, index: slice) -> RecordTable[R]: ...

    def __getitem__(self, index: int | slice) -> R | RecordTable[R]:
        if isinstance(index, slice):
            return RecordTable(
                self._record_type,
                {name: column[index] for name, column in self._values.items()},
                {name: mask[index] for name, mask in self._missing.items()},
                self._texts,
            )
        position = range(self._length)[index]  # IndexError as a tuple's, negatives counted back
        (row,) = self.rows(position, position + 1)
        return row

    def __iter__(self) -> Iterator[R]:
        for start in range(0, self._length, ROW_BLOCK):
            yield from self.rows(start, start + ROW_BLOCK)

    def rows(self, start: int = 0, stop: int | None = None) -> list[R]:
        """Records `start:stop` (all by default), made now."""
        columns: list[list[Any]] = []
        for spec in self._specs:
            listed = self._values[spec.name][start:stop].tolist()
            if spec.kind == "enum":
                listed = list(map(spec.members.__getitem__, listed))
            elif spec.kind == "text":
                listed = list(map(self._texts[spec.name].__getitem__, listed))
            elif spec.is_optional:
                mask = self._missing[spec.name][start:stop]
                if mask.any():
                    listed = [
                        None if gone else v for v, gone in zip(listed, mask.tolist(), strict=True)
                    ]
            columns.append(listed)
        return list(map(self._record_type, *columns))

    def records(self) -> tuple[R, ...]:
        """Every record, made now, as a tuple."""
        return tuple(self.rows())

    def __eq__(self, other: object) -> bool:
        """Row by row, as tuples of the records compare (a table equals a tuple too)."""
        if not isinstance(other, RecordTable | tuple):
            return NotImplemented
        return len(other) == self._length and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # compared by content, like a list

    def __repr__(self) -> str:
        return f"RecordTable[{self._record_type.__name__}]({self.records()!r})"


def _column_of(
    spec: FieldSpec, column: Sequence[Any]
) -> tuple[Values, Mask | None, tuple[str, ...] | None]:
    """One field's (values or codes, mask of the Nones, distinct texts) from its Python
    values."""
    if spec.kind == "text":
        codes, distinct = _text_codes(column)
        return codes, None, distinct
    if spec.kind == "enum":
        positions = {member: code for code, member in enumerate(spec.members)}
        return np.array(list(map(positions.__getitem__, column)), dtype=np.int64), None, None
    dtype = np.int64 if spec.kind in ("int", "optional_int") else np.float64
    if not spec.is_optional:
        return np.array(column, dtype=dtype), None, None
    mask = np.fromiter((value is None for value in column), dtype=np.bool_, count=len(column))
    filler = 0 if dtype is np.int64 else float("nan")
    present = [filler if value is None else value for value in column]
    return np.array(present, dtype=dtype), mask, None


def _text_codes(column: Sequence[str]) -> tuple[Values, tuple[str, ...]]:
    """Each text's position among the column's distinct texts (in first-seen order)."""
    positions: dict[str, int] = {}
    codes = np.fromiter(
        (positions.setdefault(text, len(positions)) for text in column),
        dtype=np.int64,
        count=len(column),
    )
    return codes, tuple(positions)


def _merged_texts(name: str, parts: Sequence[RecordTable[Any]]) -> tuple[Values, tuple[str, ...]]:
    """Text field `name`'s codes over `parts` one after another, into their merged texts."""
    positions: dict[str, int] = {}
    coded: list[Values] = []
    for part in parts:
        own = part.distinct_texts(name)
        remap = np.fromiter(
            (positions.setdefault(text, len(positions)) for text in own),
            dtype=np.int64,
            count=len(own),
        )
        coded.append(remap[part.values(name)] if len(own) else part.values(name))
    return np.concatenate(coded), tuple(positions)
