"""The class layout of a strategy source: every class statement, the runnable class, params.

Every `class` statement is checked wherever it stands (module level, inside a method, a
function or an `if`): it may derive only from `Strategy` or from classes of the same file, by
plain name. Those names must keep meaning what they meant: `Strategy` and every class name
are bound by class statements only (no `Base = dict` in any scope), and a class may not take
the name of a built-in (`class list(Strategy)` would make `class X(list)` elsewhere look like
a class of this file). The class that runs is a module-level Strategy subclass no other class
derives from. `params` in a class body is one literal dict of plain, finite defaults, so what
the editor, the API and provenance.json read is what the engine gets.
"""

from __future__ import annotations

import ast
import builtins
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from sandbox import policy
from sandbox.diagnostics import Diagnostic
from sandbox.parsing import ParsedSource, error

STRATEGY_BASE: Final = "Strategy"
_BUILTIN_NAMES: Final = frozenset(dir(builtins)) | policy.CONTRACT_NAMES
_NOT_A_LITERAL: Final = object()
_PARAMS = policy.PARAMS_ATTRIBUTE
_NESTED_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_CONTAINERS: Final[dict[type[ast.expr], str]] = {
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.ListComp: "list",
    ast.SetComp: "set",
    ast.DictComp: "dict",
    ast.GeneratorExp: "generator",
}


@dataclass(slots=True)
class ClassInfo:
    """A module-level class: its node, its bases as written, whether it is a Strategy."""

    node: ast.ClassDef
    bases: list[str]
    is_strategy: bool = False
    methods: set[str] = field(default_factory=set)


def module_classes(tree: ast.Module) -> list[ClassInfo]:
    """Module-level classes in source order (the ones that can be chosen to run)."""
    found: list[ClassInfo] = []
    classes: dict[str, ClassInfo] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = [_base_text(b) for b in node.bases]
        info = ClassInfo(node=node, bases=bases)
        info.is_strategy = any(
            b == STRATEGY_BASE or (b in classes and classes[b].is_strategy) for b in bases
        )
        info.methods = {s.name for s in node.body if isinstance(s, ast.FunctionDef)}
        classes[node.name] = info
        found.append(info)
    return found


def _base_text(base: ast.expr) -> str:
    return base.id if isinstance(base, ast.Name) else ast.unparse(base)


def strategy_candidates(classes: dict[str, ClassInfo]) -> list[str]:
    """Strategy subclasses no other class in the file derives from (the runnable leaves)."""
    used_as_base = {b for info in classes.values() for b in info.bases}
    return [n for n, i in classes.items() if i.is_strategy and n not in used_as_base]


def check_classes(
    parsed: ParsedSource, tree: ast.Module, protected: frozenset[str], chosen: str | None
) -> list[Diagnostic]:
    """Every class statement's bases, names and body, then the choice of the class to run."""
    every_class = [node for node in parsed.nodes if isinstance(node, ast.ClassDef)]
    names = {node.name for node in every_class}
    strategies = _strategy_like(every_class)
    found: list[Diagnostic] = []
    for node in every_class:
        found.extend(_base_problems(parsed, node, names))
        if node.name in _BUILTIN_NAMES:
            found.append(
                parsed.diagnostic(
                    node,
                    "SB506",
                    f"a class cannot be named '{node.name}': that name is built in",
                    "choose another class name",
                )
            )
        if len(node.name) > policy.MAX_NAME_CHARS:
            found.append(
                parsed.diagnostic(
                    node,
                    "SB507",
                    f"the class name is too long: {len(node.name):,} characters, "
                    f"the limit is {policy.MAX_NAME_CHARS}",
                    "choose a shorter class name",
                )
            )
        if node.name in strategies:
            found.extend(_api_problems(parsed, node, protected))
        found.extend(params_problems(parsed, node))
    found.extend(_rebinding_problems(parsed, names))
    found.extend(_class_params_access(parsed, names | {STRATEGY_BASE}))
    classes = {info.node.name: info for info in module_classes(tree)}
    found.extend(_check_candidates(classes, chosen))
    return found


def _strategy_like(every_class: list[ast.ClassDef]) -> set[str]:
    """Names of classes deriving from Strategy, directly or through classes of the file."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in every_class:
            if node.name in found:
                continue
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            if STRATEGY_BASE in bases or bases & found:
                found.add(node.name)
                changed = True
    return found


def _base_problems(parsed: ParsedSource, node: ast.ClassDef, names: set[str]) -> list[Diagnostic]:
    return [
        parsed.diagnostic(
            base,
            "SB505",
            f"class '{node.name}' may only derive from Strategy or a "
            f"class defined in this file, not '{_base_text(base)}'",
        )
        for base in node.bases
        if not (isinstance(base, ast.Name) and (base.id == STRATEGY_BASE or base.id in names))
    ]


def _api_problems(
    parsed: ParsedSource, node: ast.ClassDef, protected: frozenset[str]
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    for binding, name in _scope_bindings(node.body):
        if name in protected:
            verb = "redefined" if isinstance(binding, ast.FunctionDef) else "replaced"
            found.append(
                parsed.diagnostic(
                    binding,
                    "SB504",
                    f"'{name}' is part of the Strategy API and cannot be {verb}",
                    "give your method or attribute another name",
                )
            )
    return found


def _rebinding_problems(parsed: ParsedSource, class_names: set[str]) -> list[Diagnostic]:
    """`Strategy` and class names bound any other way than by a class statement, anywhere."""
    watched = class_names | {STRATEGY_BASE}
    found: list[Diagnostic] = []
    for node in parsed.nodes:
        for name in _names_bound_by(node):
            if name not in watched:
                continue
            what = (
                "the platform's Strategy base class"
                if name == STRATEGY_BASE
                else "a class of this file"
            )
            found.append(
                parsed.diagnostic(
                    node,
                    "SB506",
                    f"'{name}' names {what} and cannot be assigned, imported or "
                    "used as a parameter",
                    "choose another name for this value",
                )
            )
    return found


def _class_params_access(parsed: ParsedSource, class_names: set[str]) -> list[Diagnostic]:
    """`S.params` for a class of the file or Strategy, anywhere: a class's defaults are the
    literal validation checked, so code reaches them only through `self.params` (a copy)."""
    return [
        parsed.diagnostic(
            node,
            "SB705",
            f"'{node.value.id}.{_PARAMS}' is not allowed: a class's params are its defaults "
            "as written",
            "read them as self.params[...] inside a method",
        )
        for node in parsed.nodes
        if isinstance(node, ast.Attribute)
        and node.attr == _PARAMS
        and isinstance(node.value, ast.Name)
        and node.value.id in class_names
    ]


def _names_bound_by(node: ast.AST) -> list[str]:
    """Names `node` binds, other than by a class statement."""
    if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
        return [node.id]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return [node.name]
    if isinstance(node, ast.alias):
        return [node.asname or node.name.split(".")[0]]
    if isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
        return [node.name]
    if isinstance(node, ast.MatchMapping) and node.rest:
        return [node.rest]
    if isinstance(node, ast.Global | ast.Nonlocal):
        return list(node.names)
    return []


def _scope_nodes(statements: list[ast.stmt]) -> Iterator[ast.AST]:
    """Nodes of a class body's own scope: nested functions, classes, lambdas and
    comprehensions are yielded (they bind their name) but not entered, except for what runs
    in the class body (decorators, bases, defaults, a comprehension's first iterable)."""
    stack: list[ast.AST] = list(reversed(statements))
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, _NESTED_SCOPES):
            stack.extend(_evaluated_in_enclosing_scope(node))
            continue
        if isinstance(node, _COMPREHENSIONS):  # only the first iterable runs in this scope
            stack.append(node.generators[0].iter)
            continue
        stack.extend(reversed(list(ast.iter_child_nodes(node))))


def _evaluated_in_enclosing_scope(
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda,
) -> list[ast.AST]:
    """The parts of a def, lambda or class statement that run in the scope around it."""
    parts: list[ast.AST] = []
    if not isinstance(node, ast.Lambda):
        parts.extend(node.decorator_list)
    if isinstance(node, ast.ClassDef):
        parts.extend([*node.bases, *node.keywords])
    else:
        parts.extend(node.args.defaults)
        parts.extend(d for d in node.args.kw_defaults if d is not None)
    return parts


def _scope_bindings(statements: list[ast.stmt]) -> Iterator[tuple[ast.AST, str]]:
    for node in _scope_nodes(statements):
        if isinstance(node, ast.ClassDef):
            yield node, node.name
        else:
            for name in _names_bound_by(node):
                yield node, name


def params_problems(parsed: ParsedSource, node: ast.ClassDef) -> list[Diagnostic]:
    """`params` in a class body: bound once by `params = {...}` with plain, finite defaults."""
    found: list[Diagnostic] = []
    literal_targets: set[int] = set()
    for statement in _scope_nodes(node.body):
        if isinstance(statement, ast.Assign) and _is_params_assignment(statement):
            literal_targets.update(id(target) for target in statement.targets)
            found.extend(_params_value_problems(parsed, statement.value))
        elif (
            isinstance(statement, ast.Name)
            and statement.id == _PARAMS
            and isinstance(statement.ctx, ast.Load)
        ):
            found.append(
                parsed.diagnostic(
                    statement,
                    "SB701",
                    "'params' cannot be read or changed in the class body, only set once "
                    "with params = {...}",
                    "read the values as self.params[...] inside a method",
                )
            )
    for binding, name in _scope_bindings(node.body):
        if name == _PARAMS and id(binding) not in literal_targets:
            found.append(
                parsed.diagnostic(
                    binding,
                    "SB701",
                    "'params' must be set with params = {...} in the class body",
                    'for example params = {"fast": 10, "slow": 30}',
                )
            )
    return found


def _is_params_assignment(statement: ast.Assign) -> bool:
    return all(isinstance(t, ast.Name) for t in statement.targets) and any(
        isinstance(t, ast.Name) and t.id == _PARAMS for t in statement.targets
    )


def _params_value_problems(parsed: ParsedSource, value: ast.expr) -> list[Diagnostic]:
    if not isinstance(value, ast.Dict):
        return [
            parsed.diagnostic(
                value,
                "SB701",
                "params must be a dict written out literally, not computed",
                'for example params = {"fast": 10, "slow": 30}',
            )
        ]
    found: list[Diagnostic] = []
    for key, item in zip(value.keys, value.values, strict=True):
        if key is None:
            found.append(
                parsed.diagnostic(
                    item, "SB701", "params cannot unpack another dict ('**')", "list each one"
                )
            )
            continue
        name = literal(key)
        if not isinstance(name, str):
            found.append(
                parsed.diagnostic(
                    key, "SB702", "parameter names must be strings", 'for example "fast"'
                )
            )
            continue
        if not is_plain_param_name(name):
            found.append(
                parsed.diagnostic(
                    key,
                    "SB702",
                    f"parameter names must be 1 to {policy.MAX_NAME_CHARS} printable characters",
                    'for example "fast"',
                )
            )
            continue
        found.extend(_default_problems(parsed, name, item))
    return found


def is_plain_param_name(name: object) -> bool:
    """True for a parameter name: a string of 1 to MAX_NAME_CHARS printable characters (no
    control character or lone surrogate, which no writer downstream can store or show)."""
    return isinstance(name, str) and 0 < len(name) <= policy.MAX_NAME_CHARS and name.isprintable()


def is_plain_default(value: object) -> bool:
    """True for a default a parameter may have: a bool, a printable string, a finite float or
    an integer within ±2**53 (exact in JSON, in the browser and in float arithmetic)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.isprintable()
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int) and abs(value) <= policy.MAX_PARAM_INT


def _default_problems(parsed: ParsedSource, name: str, item: ast.expr) -> list[Diagnostic]:
    if isinstance(item, tuple(_CONTAINERS)):
        return [_not_plain(parsed, name, item, _CONTAINERS[type(item)])]
    default = literal(item)
    if default is _NOT_A_LITERAL:
        return [
            parsed.diagnostic(
                item,
                "SB701",
                f"the default of parameter '{name}' must be a number, bool or string "
                "written out, not computed",
                "write the value itself, for example 0.5",
            )
        ]
    if not isinstance(default, bool | int | float | str):
        return [_not_plain(parsed, name, item, type(default).__name__)]
    if isinstance(default, str) and not default.isprintable():
        return [
            parsed.diagnostic(
                item,
                "SB703",
                f"the default of parameter '{name}' holds a control character or half of a "
                "UTF-16 pair; text defaults must be printable",
                "write the text without escapes such as \\n or \\x1b",
            )
        ]
    if isinstance(default, float) and not math.isfinite(default):
        return [
            parsed.diagnostic(
                item,
                "SB703",
                f"the default of parameter '{name}' is {default}, not a finite number",
                "write a finite number, for example 1e9 for 'very large'",
            )
        ]
    if (
        isinstance(default, int)
        and not isinstance(default, bool)
        and abs(default) > policy.MAX_PARAM_INT
    ):
        return [
            parsed.diagnostic(
                item,
                "SB703",
                f"the default of parameter '{name}' is too large: integers must lie within "
                f"±{policy.MAX_PARAM_INT:,} (2**53)",
            )
        ]
    return []


def _not_plain(parsed: ParsedSource, name: str, item: ast.expr, kind: str) -> Diagnostic:
    return parsed.diagnostic(
        item,
        "SB702",
        f"the default of parameter '{name}' is a {kind}; defaults must be numbers, bools or "
        "strings",
    )


def literal(node: ast.AST | None) -> object:
    """The value of a literal expression, or a sentinel when it is not one."""
    if node is None:
        return _NOT_A_LITERAL
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, ArithmeticError, MemoryError, RecursionError):
        return _NOT_A_LITERAL


def is_literal_value(value: object) -> bool:
    """False for the sentinel `literal` returns when an expression is not a literal."""
    return value is not _NOT_A_LITERAL


def _check_candidates(classes: dict[str, ClassInfo], chosen: str | None) -> list[Diagnostic]:
    candidates = strategy_candidates(classes)
    if chosen is not None:
        if chosen not in candidates:
            known = ", ".join(candidates) or "none"
            shown = "".join(ch if ch.isprintable() else "?" for ch in chosen[:100])
            return [
                error(
                    1,
                    1,
                    "SB502",
                    f"there is no strategy class named '{shown}' (strategy classes here: {known})",
                )
            ]
        candidates = [chosen]
    if not candidates:
        return [
            error(
                1,
                1,
                "SB501",
                "no strategy class found",
                "define a class that derives from Strategy, e.g. class MyStrategy(Strategy):",
            )
        ]
    if len(candidates) > 1:
        return [
            error(
                1,
                1,
                "SB502",
                "several strategy classes found (" + ", ".join(candidates) + "); choose one to run",
            )
        ]
    return _check_on_data(classes, candidates[0])


def _check_on_data(classes: dict[str, ClassInfo], name: str) -> list[Diagnostic]:
    current: str | None = name
    while current in classes:
        info = classes[current]
        if "on_data" in info.methods:
            return []
        current = next((b for b in info.bases if b in classes), None)
    node = classes[name].node
    return [
        error(
            node.lineno,
            node.col_offset + 1,
            "SB503",
            f"strategy '{name}' has no on_data(self, bar) method",
            "add def on_data(self, bar): with your trading rules",
        )
    ]
