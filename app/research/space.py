"""Search spaces of a sweep: the ranges given for a strategy's params and their Optuna form.

A `--param` value names one of the strategy's params (`inspection.defaults`) and gives its
range, typed by the param's default:

- `fast=5:50:5`: from 5 to 50 inclusive in steps of 5 (`low:high` takes step 1 for a whole
  number, and is continuous for a float param); a step that does not land on `high` stops at
  the last value below it (5:50:7 is 5, 12, ..., 47).
- `slow=20..200`: from 20 to 200, every whole number for an int param, continuous for a float.
- `mode=a,b,c`: these choices, each typed like the default (numbers, true/false, text).
- `fast=12`: a single value, fixed for every trial.

Every problem is a ResearchInputError naming the param, raised before any trial runs.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from app.engine import ParamValue, StrategyDefinitionError, coerce_params
from app.research.errors import ResearchInputError

FIELD: Final = "param"
GRID_LIMIT: Final = 10_000_000
"""Most grid points a grid sweep may name (each is one sandboxed run)."""


@dataclass(frozen=True)
class IntRange:
    """Whole numbers low, low + step, ... up to high (inclusive when a step lands on it)."""

    name: str
    low: int
    high: int
    step: int = 1

    @property
    def count(self) -> int:
        return (self.high - self.low) // self.step + 1

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))

    @property
    def top(self) -> int:
        """The largest value of the range (`high` when a step lands on it)."""
        return self.low + (self.high - self.low) // self.step * self.step


@dataclass(frozen=True)
class FloatRange:
    """Numbers from low to high: continuous when `step` is None, else low + k x step."""

    name: str
    low: float
    high: float
    step: float | None = None

    @property
    def is_continuous(self) -> bool:
        return self.step is None and self.low < self.high

    @property
    def count(self) -> int | None:
        """How many values a stepped range holds (None when continuous)."""
        if self.step is None:
            return None if self.low < self.high else 1
        # A small tolerance so that 0:1:0.1 holds 1.0 despite 0.1's binary rounding.
        return math.floor((self.high - self.low) / self.step + 1e-9) + 1

    @property
    def top(self) -> float:
        """The largest value of a stepped range (`high` for a continuous one)."""
        count = self.count
        if count is None or self.step is None:
            return self.high
        return _tidy(self.low + (count - 1) * self.step)

    def values(self) -> list[float]:
        """The stepped values, each rounded to 12 significant decimals of the step's grid."""
        count = self.count
        if count is None:
            raise ValueError(f"{self.name} is a continuous range: it has no list of values")
        step = self.step or 0.0
        return [_tidy(self.low + index * step) for index in range(count)]


@dataclass(frozen=True)
class Choice:
    """One of the listed options (a single option: the param is fixed)."""

    name: str
    options: tuple[ParamValue, ...]

    def values(self) -> list[ParamValue]:
        return list(self.options)


ParamRange = IntRange | FloatRange | Choice


def _tidy(value: float) -> float:
    """`value` without float noise such as 0.30000000000000004 (12 decimals kept)."""
    return float(round(value, 12))


@dataclass(frozen=True)
class SearchSpace:
    """The ranges of one sweep, one per param (params not named keep their default)."""

    ranges: tuple[ParamRange, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for item in self.ranges:
            if item.name in seen:
                raise ResearchInputError(
                    FIELD, f"{item.name} is given twice; give one range per param"
                )
            seen.add(item.name)

    def __iter__(self) -> Iterator[ParamRange]:
        return iter(self.ranges)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.ranges)

    def fixed(self) -> dict[str, ParamValue]:
        """Params with a single value: set on every trial, not searched."""
        return {item.name: item.values()[0] for item in self.ranges if _count(item) == 1}

    def searched(self) -> tuple[ParamRange, ...]:
        """The ranges with more than one value, in the order given."""
        return tuple(item for item in self.ranges if _count(item) != 1)

    def continuous(self) -> tuple[str, ...]:
        """Names of the continuous ranges (a grid cannot enumerate them)."""
        return tuple(r.name for r in self.ranges if isinstance(r, FloatRange) and r.is_continuous)

    def grid_size(self) -> int | None:
        """Number of grid points over every range; None when a range is continuous."""
        if self.continuous():
            return None
        return math.prod(_count(item) for item in self.ranges)

    def grid(self) -> dict[str, list[ParamValue]]:
        """The values of each searched range, for Optuna's GridSampler."""
        return {item.name: list(item.values()) for item in self.searched()}

    def distributions(self) -> dict[str, Any]:
        """Optuna distributions of the searched ranges (imported here: optuna is heavy)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        found: dict[str, Any] = {}
        for item in self.searched():
            if isinstance(item, IntRange):
                found[item.name] = IntDistribution(item.low, item.top, step=item.step)
            elif isinstance(item, FloatRange):
                found[item.name] = FloatDistribution(item.low, item.top, step=item.step)
            else:
                found[item.name] = CategoricalDistribution(item.options)
        return found

    def describe(self) -> list[dict[str, Any]]:
        """The space as plain JSON data (stored with a study, compared on resume)."""
        described: list[dict[str, Any]] = []
        for item in self.ranges:
            if isinstance(item, IntRange):
                entry: dict[str, Any] = {"kind": "int", "low": item.low, "high": item.top}
                entry["step"] = item.step
            elif isinstance(item, FloatRange):
                entry = {"kind": "float", "low": item.low, "high": item.top, "step": item.step}
            else:
                entry = {"kind": "choice", "options": list(item.options)}
            described.append({"name": item.name, **entry})
        return described


def _count(item: ParamRange) -> int:
    """How many values `item` holds (a continuous range counts as 2: never fixed)."""
    if isinstance(item, Choice):
        return len(item.options)
    return item.count if item.count is not None else 2


def parse_param(text: str, defaults: Mapping[str, ParamValue]) -> ParamRange:
    """One `--param` value (`fast=5:50:5`, `slow=20..200`, `mode=a,b,c`, `fast=12`) as a
    range of the named param, typed by its default in `defaults`.

    ResearchInputError("param") for a malformed value, an unknown param (with the closest
    names), a value of the wrong type, an empty range or a step that is not positive.
    """
    name, sep, spec = text.partition("=")
    name, spec = name.strip(), spec.strip()
    if not sep or not name or not spec:
        raise ResearchInputError(
            FIELD, f"{text!r} must look like name=low:high[:step], name=low..high or name=a,b,c"
        )
    if name not in defaults:
        raise ResearchInputError(FIELD, _unknown_name(name, defaults))
    default = defaults[name]
    if "," in spec:
        return _choices(name, [part.strip() for part in spec.split(",")], defaults)
    if isinstance(default, bool | str) or (":" not in spec and ".." not in spec):
        return _choices(name, [spec], defaults)
    if ".." in spec:
        parts = spec.split("..")
        if len(parts) != 2:
            raise ResearchInputError(FIELD, f"{name}={spec} must look like {name}=low..high")
        low_text, high_text, step_text = parts[0], parts[1], None
    else:
        parts = spec.split(":")
        if len(parts) not in (2, 3):
            raise ResearchInputError(
                FIELD, f"{name}={spec} must look like {name}=low:high or {name}=low:high:step"
            )
        low_text, high_text = parts[0], parts[1]
        step_text = parts[2] if len(parts) == 3 else None
    if isinstance(default, int):
        return _int_range(name, default, low_text, high_text, step_text)
    return _float_range(name, default, low_text, high_text, step_text)


def parse_space(texts: Sequence[str], defaults: Mapping[str, ParamValue]) -> SearchSpace:
    """Every `--param` value as one SearchSpace (a param given twice is refused)."""
    return SearchSpace(tuple(parse_param(text, defaults) for text in texts))


def _unknown_name(name: str, defaults: Mapping[str, ParamValue]) -> str:
    close = difflib.get_close_matches(name, list(defaults), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    known = ", ".join(defaults) or "none"
    return f"the strategy has no param {name!r}; {hint}its params are: {known}"


def _typed(name: str, raw: str, defaults: Mapping[str, ParamValue]) -> ParamValue:
    """`raw` typed like the default of `name` (the engine's one coercion of text params)."""
    default = defaults[name]
    if isinstance(default, int) and not isinstance(default, bool):
        try:  # 5.0 is not a whole number as typed: refuse it like 5.5, not round it
            int(raw.strip())
        except ValueError:
            raise ResearchInputError(
                FIELD, f"{name} takes whole numbers like its default {default!r}; got {raw!r}"
            ) from None
    try:
        return coerce_params({name: default}, {name: raw})[name]
    except StrategyDefinitionError as error:
        raise ResearchInputError(FIELD, str(error)) from None


def _choices(name: str, raws: list[str], defaults: Mapping[str, ParamValue]) -> Choice:
    if any(not raw for raw in raws):
        raise ResearchInputError(
            FIELD, f"{name} has an empty choice; list values like {name}=a,b,c"
        )
    options: list[ParamValue] = []
    for raw in raws:
        value = _typed(name, raw, defaults)
        if value not in options:
            options.append(value)
    return Choice(name, tuple(options))


def _int_range(
    name: str, default: int, low_text: str, high_text: str, step_text: str | None
) -> IntRange:
    defaults = {name: default}
    low = int(_typed(name, low_text, defaults))
    high = int(_typed(name, high_text, defaults))
    step = int(_typed(name, step_text, defaults)) if step_text is not None else 1
    _check_bounds(name, low, high, step)
    return IntRange(name, low, high, step)


def _float_range(
    name: str, default: float, low_text: str, high_text: str, step_text: str | None
) -> FloatRange:
    defaults = {name: default}
    low = float(_typed(name, low_text, defaults))
    high = float(_typed(name, high_text, defaults))
    step = float(_typed(name, step_text, defaults)) if step_text is not None else None
    _check_bounds(name, low, high, step)
    return FloatRange(name, low, high, step)


def _check_bounds(name: str, low: float, high: float, step: float | None) -> None:
    if low > high:
        raise ResearchInputError(
            FIELD, f"{name}'s range is empty: low {low!r} is above high {high!r}"
        )
    if step is not None and step <= 0:
        raise ResearchInputError(FIELD, f"{name}'s step must be above 0; got {step!r}")
    if step is not None and (high - low) / step + 1 > GRID_LIMIT:
        raise ResearchInputError(
            FIELD, f"{name}'s range holds more than {GRID_LIMIT:,} values; use a larger step"
        )


__all__ = [
    "Choice",
    "FloatRange",
    "IntRange",
    "ParamRange",
    "SearchSpace",
    "parse_param",
    "parse_space",
]
