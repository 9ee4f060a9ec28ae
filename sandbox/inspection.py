"""What strategy source says about itself, read without running it: the class that runs, its
params (inherited ones merged, each typed by its default), its title, and every diagnostic.

This is the one reader of "which class, which params": the API, the run service, the editor's
params form and the CLI all show what `inspect_source` returns. The rules are Python's own, so
the engine sees the same thing at run time: the class that runs is the one Strategy subclass
no other class in the file derives from (`compile_strategy` picks it by the same rule), and a
class's params are the `params` dicts along its method resolution order merged base first,
the subclass's values winning (the engine's loop merges them the same way).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any, Final

from app.engine import ParamValue
from sandbox.classes import (
    ClassInfo,
    is_plain_default,
    is_plain_param_name,
    module_classes,
    strategy_candidates,
)
from sandbox.diagnostics import Diagnostic, has_errors
from sandbox.parsing import SOURCE_LIMIT_CODES
from sandbox.validate import validate_source

PARAMS_ATTRIBUTE: Final = "params"
PARAM_KINDS: Final[tuple[tuple[type, str], ...]] = (
    (bool, "bool"),  # before int: a bool is an int in Python
    (int, "int"),
    (float, "float"),
    (str, "str"),
)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One strategy parameter: its name, its kind (bool, int, float or str) and its default."""

    name: str
    kind: str
    default: ParamValue

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "default": self.default}


@dataclass(frozen=True, slots=True)
class SourceInspection:
    """Everything read from one source. `strategy_class` is '' when no single class can run
    (none, several, or the source does not parse); its diagnostics then say why."""

    strategy_class: str
    params: tuple[ParamSpec, ...]
    title: str
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    @property
    def is_runnable(self) -> bool:
        """True when no diagnostic is an error."""
        return not has_errors(list(self.diagnostics))

    @property
    def defaults(self) -> dict[str, ParamValue]:
        """The params as name -> default, in declaration order."""
        return {param.name: param.default for param in self.params}

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy_class": self.strategy_class,
            "params": [param.to_dict() for param in self.params],
            "title": self.title,
            "diagnostics": [d.to_dict() for d in self.diagnostics],
        }


def inspect_source(
    code: str, filename: str = "strategy.py", *, strategy_name: str | None = None
) -> SourceInspection:
    """Inspect strategy source; never runs it. `strategy_name` picks one class when the file
    defines several strategies (as `validate_source` and `compile_strategy` take it)."""
    diagnostics = validate_source(code, filename, strategy_name=strategy_name)
    if any(d.code in SOURCE_LIMIT_CODES for d in diagnostics):  # too large or deep to parse
        return SourceInspection("", (), "", tuple(diagnostics))
    try:
        tree = ast.parse(code, filename=filename)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return SourceInspection("", (), "", tuple(diagnostics))
    infos = module_classes(tree)
    classes = {info.node.name: info for info in infos}
    chosen = _chosen_class(classes, strategy_name)
    params = _merged_params(classes, _linearizations(infos)[chosen]) if chosen else ()
    return SourceInspection(chosen, params, _title(tree), tuple(diagnostics))


def _chosen_class(classes: dict[str, ClassInfo], strategy_name: str | None) -> str:
    """The class that runs, by the rule validation and compile_strategy use (the one Strategy
    subclass no other class derives from); '' when none or several could."""
    leaves = strategy_candidates(classes)
    if strategy_name is not None:
        return strategy_name if strategy_name in leaves else ""
    return leaves[0] if len(leaves) == 1 else ""


def _linearizations(infos: list[ClassInfo]) -> dict[str, list[str]]:
    """The C3 method resolution order of each class, computed in source order as Python does
    when it runs the class statements: a base is the class of that name defined earlier (a
    later or unknown name, such as Strategy, ends the order). A hierarchy Python would refuse
    gives the class alone; no class is visited twice, so hostile layouts stay linear."""
    orders: dict[str, list[str]] = {}
    for info in infos:
        name = info.node.name
        sequences = [list(orders.get(base, [base])) for base in info.bases]
        sequences.append(list(info.bases))
        orders[name] = _c3_merge(name, sequences)
    return orders


def _c3_merge(name: str, sequences: list[list[str]]) -> list[str]:
    order = [name]
    while sequences := [s for s in sequences if s]:
        head = next(
            (s[0] for s in sequences if not any(s[0] in other[1:] for other in sequences)), None
        )
        if head is None:
            return [name]
        order.append(head)
        sequences = [s[1:] if s[0] == head else s for s in sequences]
    return order


def _merged_params(classes: dict[str, ClassInfo], order: list[str]) -> tuple[ParamSpec, ...]:
    """`params` along the MRO `order`, base first, a subclass's value winning (a base's order
    kept). Only plain literal defaults are read: validation reports any other as an error."""
    merged: dict[str, ParamSpec] = {}
    for class_name in reversed(order):
        info = classes.get(class_name)
        own = _literal_params(info.node) if info is not None else {}
        merged.update((key, ParamSpec(key, kind, value)) for key, (kind, value) in own.items())
    return tuple(merged.values())


def _literal_params(node: ast.ClassDef) -> dict[str, tuple[str, ParamValue]]:
    """The last `params = {...}` of a class body (the one that counts), as name -> (kind,
    default); {} when there is none or it is not a literal dict."""
    statement = next(
        (
            s
            for s in reversed(node.body)
            if isinstance(s, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == PARAMS_ATTRIBUTE for t in s.targets)
        ),
        None,
    )
    if statement is None:
        return {}
    try:
        value = ast.literal_eval(statement.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return {}
    if not isinstance(value, dict):
        return {}
    found: dict[str, tuple[str, ParamValue]] = {}
    for key, default in value.items():
        kind = _kind(default)
        if is_plain_param_name(key) and kind is not None and is_plain_default(default):
            found[key] = (kind, default)  # validation refuses the others (SB702, SB703)
    return found


def _kind(value: object) -> str | None:
    for python_type, kind in PARAM_KINDS:
        if isinstance(value, python_type):
            return kind
    return None


def _title(tree: ast.Module) -> str:
    """The first line of the module docstring ('' when there is none)."""
    docstring = ast.get_docstring(tree)
    line = docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""
    return "".join(ch for ch in line if ch.isprintable())[:200]  # no escapes or surrogates
