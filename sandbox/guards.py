"""The RestrictedPython guard functions and the globals a compiled strategy runs with.

Attribute names in guarded code are compile-time constants (RestrictedPython already refuses any
name starting with '_'), so the per-access work is one dict lookup by exact type and one set
membership test; the allow-list for a type is resolved once and cached for the run. Access is
default-deny: a type with no rule here (engine objects not in sandbox/api_surface.py included)
exposes no attribute at all.
"""

from __future__ import annotations

import builtins
import datetime as dt
import enum
import operator
from collections.abc import Callable, Mapping
from types import FunctionType
from typing import Any, Final

import numpy as np
import pandas as pd
from pandas.core import indexing as pd_indexing
from pandas.core.window import ewm as pd_ewm
from pandas.core.window import expanding as pd_expanding
from pandas.core.window import rolling as pd_rolling
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox import policy
from sandbox.api_surface import ENGINE_API, missing_attribute_message
from sandbox.errors import SandboxViolation
from sandbox.facades import Facade, build_facades, make_importer

SANDBOX_MODULE: Final = "strategy"
_MISSING: Final = object()

# (names, is_allow_list): allowed when (name in names) == is_allow_list.
AccessRule = tuple[frozenset[str], bool]
_NOTHING: Final[AccessRule] = (frozenset(), True)
_ANY_PUBLIC: Final[AccessRule] = (frozenset(), False)
_CLASS_OBJECT: Final[AccessRule] = (frozenset({"<class>"}), True)
# Refused even where a type's public names are otherwise open (engine enums, user classes).
_NEVER_ALLOWED: Final = policy.INTERNAL_ATTRIBUTES | frozenset(policy.DANGEROUS_ATTRIBUTES)


def _fixed_rules() -> dict[type, AccessRule]:
    """Allow-lists for the builtin, numpy and pandas types a strategy can hold."""
    numeric = policy.NUMERIC_ATTRIBUTES
    rules: dict[type, frozenset[str]] = {
        str: policy.STR_ATTRIBUTES,
        list: policy.LIST_ATTRIBUTES,
        dict: policy.DICT_ATTRIBUTES,
        set: policy.SET_ATTRIBUTES,
        frozenset: policy.SET_ATTRIBUTES - {"add", "clear", "discard", "pop", "remove", "update"},
        tuple: policy.TUPLE_ATTRIBUTES,
        int: numeric,
        float: numeric,
        bool: numeric,
        complex: frozenset({"real", "imag", "conjugate"}),
        range: policy.RANGE_ATTRIBUTES,
        slice: policy.SLICE_ATTRIBUTES,
        dt.datetime: policy.DATETIME_ATTRIBUTES,
        dt.date: policy.DATETIME_ATTRIBUTES,
        np.ndarray: policy.NDARRAY_ATTRIBUTES,
        np.ufunc: policy.UFUNC_ATTRIBUTES,
        pd.Series: policy.SERIES_ATTRIBUTES,
        pd.DataFrame: policy.DATAFRAME_ATTRIBUTES,
        pd_rolling.Rolling: policy.WINDOW_ATTRIBUTES,
        pd_expanding.Expanding: policy.WINDOW_ATTRIBUTES,
        pd_ewm.ExponentialMovingWindow: frozenset({"mean", "std", "var", "sum", "corr", "cov"}),
        pd_indexing._iLocIndexer: policy.INDEXER_ATTRIBUTES,
        pd_indexing._LocIndexer: policy.INDEXER_ATTRIBUTES,
        pd_indexing._AtIndexer: policy.INDEXER_ATTRIBUTES,
        pd_indexing._iAtIndexer: policy.INDEXER_ATTRIBUTES,
    }
    fixed = {kind: (names, True) for kind, names in rules.items()}
    fixed.update({kind: (names, True) for kind, names in ENGINE_API.items()})
    fixed[Facade] = _ANY_PUBLIC  # a facade's own __getattr__ hands out only its exports
    fixed[type] = _CLASS_OBJECT
    return fixed


def _resolve_rule(kind: type, fixed: Mapping[type, AccessRule]) -> AccessRule:
    """The access rule for a type not in the fixed table (computed once per type per run)."""
    if kind.__module__ == SANDBOX_MODULE:
        return _user_class_rule(kind, fixed)
    if issubclass(kind, BaseException):
        return (policy.EXCEPTION_ATTRIBUTES, True)
    if issubclass(kind, enum.Enum):
        return (frozenset({"name", "value"}), True)
    if issubclass(kind, np.generic):
        return (policy.NUMPY_SCALAR_ATTRIBUTES, True)
    if issubclass(kind, np.dtype):
        return (policy.DTYPE_ATTRIBUTES, True)
    return _NOTHING  # engine types not in api_surface.ENGINE_API included: default deny


def _user_class_rule(kind: type, fixed: Mapping[type, AccessRule]) -> AccessRule:
    """A class from the strategy's source: any public name except what its library bases hide."""
    denied: set[str] = set()
    for base in kind.__mro__[1:]:
        if base is object or base.__module__ == SANDBOX_MODULE:
            continue
        if base.__module__.startswith("app.engine."):  # the Strategy base: only its API
            public = {n for n in dir(base) if not n.startswith("_")}
            denied |= public - ENGINE_API.get(base, frozenset())
            continue
        names, is_allow = fixed.get(base) or _resolve_rule(base, fixed)
        public = {n for n in dir(base) if not n.startswith("_")}
        denied |= public - names if is_allow else public & names
    return (frozenset(denied), False)


class _AccessRules:
    """One run's access rules by exact type: the fixed table, other types resolved once.
    `allowed` holds the names of every plain allow-list rule (all but a class object's), the
    guard's hot path."""

    __slots__ = ("allowed", "fixed", "rules")

    def __init__(self) -> None:
        self.fixed = _fixed_rules()
        self.rules: dict[type, AccessRule] = dict(self.fixed)
        self.allowed: dict[type, frozenset[str]] = {}
        for kind in self.fixed:
            self.rule_for(kind)

    def rule_for(self, kind: type) -> AccessRule:
        rule = self.rules.get(kind)
        if rule is None:
            rule = self.rules[kind] = _resolve_rule(kind, self.fixed)
        if rule[1] and rule is not _CLASS_OBJECT:
            self.allowed[kind] = rule[0]
        return rule


def _checked_getattr(
    obj: object,
    name: str,
    default: object,
    rule: AccessRule,
    is_user_class: Callable[[object], bool],
) -> Any:
    """`obj.<name>` by `obj`'s type's rule, or the refusal."""
    names, is_allow = rule
    if is_allow:
        if name in names:
            return getattr(obj, name) if default is _MISSING else getattr(obj, name, default)
        if (
            rule is _CLASS_OBJECT
            and is_user_class(obj)
            and name[0] != "_"
            and name not in _NEVER_ALLOWED
            and not isinstance(getattr(obj, name, None), FunctionType)
        ):
            return getattr(obj, name)
    elif name not in names and name[0] != "_":
        return _open_getattr(obj, name, default, names)
    raise _refusal(obj, name, names)


def make_getattr(
    is_user_class: Callable[[object], bool],
) -> tuple[Callable[..., Any], Callable[[object], None]]:
    """The `_getattr_` guard (per-type allow-lists, cached by exact type) and `_check_self_`."""
    rules = _AccessRules()
    allowed, rule_for = rules.allowed, rules.rule_for

    def guarded_getattr(obj: object, name: str, default: object = _MISSING) -> Any:
        names = allowed.get(type(obj))  # the hot path: an allowed name of an allow-list type
        if names is not None and name in names and default is _MISSING:
            return getattr(obj, name)
        return _checked_getattr(obj, name, default, rule_for(type(obj)), is_user_class)

    trusted_selves: set[type] = set()  # checked once; a class's module and rule never change

    def check_self(obj: object) -> None:
        """`_check_self_`: methods with unguarded self reads run only on open user objects."""
        kind = type(obj)
        if kind in trusted_selves:
            return
        if kind.__module__ == SANDBOX_MODULE and rule_for(kind) == _ANY_PUBLIC:
            trusted_selves.add(kind)
            return
        raise SandboxViolation(
            f"a method of the strategy was called on a '{_type_name(obj)}' object"
        )

    return guarded_getattr, check_self


def _refusal(obj: object, name: str, allowed: frozenset[str]) -> Exception:
    """The error for a name off `obj`'s allow-list: a name an API object lacks altogether is
    an AttributeError that teaches (api_surface); one it has is a SandboxViolation."""
    if type(obj) in ENGINE_API and not _has_attribute(obj, name):
        return AttributeError(missing_attribute_message(obj, name, allowed))
    return SandboxViolation(f"'{_type_name(obj)}' has no attribute '{name}' in the sandbox")


def _open_getattr(obj: object, name: str, default: object, denied: frozenset[str]) -> Any:
    """`obj.<name>` on an object open but for `denied` (a user's object, a facade); a name a
    user's object lacks is an AttributeError with a "did you mean" among what it may read."""
    if default is not _MISSING:
        return getattr(obj, name, default)
    try:
        return getattr(obj, name)
    except AttributeError:
        if type(obj).__module__ != SANDBOX_MODULE or _has_attribute(obj, name):
            raise  # a facade's own answer, or raised inside the attribute's code
        readable = frozenset(n for n in dir(obj) if n[0] != "_" and n not in denied)
        raise AttributeError(missing_attribute_message(obj, name, readable)) from None


def _has_attribute(obj: object, name: str) -> bool:
    """True when `name` is an attribute of `obj`'s type or its own instance dict (read without
    running any of the object's code): the name exists, whether or not a strategy may read
    it. A name that does not exist gets a "did you mean" (api_surface); one that exists but
    is refused stays a SandboxViolation."""
    instance = getattr(obj, "__dict__", None)
    return any(name in vars(base) for base in type(obj).__mro__) or (
        isinstance(instance, dict) and name in instance
    )


def _type_name(obj: object) -> str:
    return obj.__name__ if isinstance(obj, type) else type(obj).__name__


class _StrategyWriter:
    """Stands in for a Strategy instance in `self.x = ...`, refusing to replace the API."""

    __slots__ = ("_protected", "_target")
    _protected: frozenset[str]
    _target: object

    def __init__(self, target: object, protected: frozenset[str]) -> None:
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_protected", protected)

    def __setattr__(self, name: str, value: object) -> None:
        if name in self._protected or name[:1] == "_":
            raise SandboxViolation(
                f"'self.{name}' is part of the Strategy API and cannot be replaced"
            )
        setattr(self._target, name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._protected or name[:1] == "_":
            raise SandboxViolation(f"'self.{name}' cannot be deleted")
        delattr(self._target, name)


_WRITABLE: Final = frozenset({list, dict, set, np.ndarray})


def make_write(strategy_base: type, protected: frozenset[str]) -> Callable[[object], object]:
    """The `_write_` guard: the strategy may change its own lists, dicts, arrays and objects.

    Arrays from the engine are read-only, so item writes into them fail in numpy itself.
    Types, modules, engine objects and pandas objects refuse writes.
    """

    def guarded_write(obj: object) -> object:
        kind = type(obj)
        if kind in _WRITABLE:
            return obj
        if kind.__module__ == SANDBOX_MODULE and not isinstance(obj, type):
            if isinstance(obj, strategy_base):
                return _StrategyWriter(obj, protected)
            return obj
        raise SandboxViolation(f"'{_type_name(obj)}' cannot be changed from a strategy")

    return guarded_write


_INPLACE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def inplace_var(op: str, target: Any, value: Any) -> Any:
    """`_inplacevar_`: `x += y` on a plain name."""
    try:
        return _INPLACE[op](target, value)
    except KeyError:
        raise SandboxViolation(f"the operator {op} is not supported") from None


def apply_call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`_apply_`: a call with *args or **kwargs."""
    return function(*args, **kwargs)


def safe_builtins(importer: Callable[..., Any]) -> dict[str, Any]:
    """The builtins a strategy sees: `policy.SAFE_BUILTIN_NAMES` and the facade importer."""
    table = {name: getattr(builtins, name) for name in policy.SAFE_BUILTIN_NAMES}
    table["__import__"] = importer
    table["__build_class__"] = builtins.__build_class__  # class statements need it
    return table


def _is_user_class(obj: object) -> bool:
    return isinstance(obj, type) and obj.__module__ == SANDBOX_MODULE


def build_globals(
    contract: Mapping[str, object], strategy_base: type, protected: frozenset[str]
) -> dict[str, Any]:
    """Fresh module globals for one compiled strategy: guards, builtins and the contract names."""
    facades = build_facades()
    guarded_getattr, check_self = make_getattr(_is_user_class)

    return {
        "__builtins__": safe_builtins(make_importer(facades)),
        "__name__": SANDBOX_MODULE,
        "__metaclass__": type,
        "_getattr_": guarded_getattr,
        "_check_self_": check_self,
        "_getitem_": operator.getitem,
        "_getiter_": iter,
        "_write_": make_write(strategy_base, protected),
        "_inplacevar_": inplace_var,
        "_apply_": apply_call,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        **contract,
    }
