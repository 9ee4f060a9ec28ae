"""Static validation of strategy source: every refused construct becomes a Diagnostic.

The source is read by `sandbox.parsing` (text, size and depth limits), its nodes are checked
here against the node-kind allow-list and the name, attribute and import rules of
`sandbox.policy`, and its class layout and params by `sandbox.classes`.
"""

from __future__ import annotations

import ast
import difflib
import logging
import re
import string
from collections.abc import Callable, Iterable
from typing import Any

from sandbox import policy
from sandbox.api_names import (
    strategy_class_names,
    unknown_indicator_problems,
    unknown_self_names,
)
from sandbox.classes import (
    check_classes,
    module_classes,
    strategy_candidates,
)
from sandbox.diagnostics import Diagnostic, bounded
from sandbox.lookahead import is_indicator_call, lookahead_problems
from sandbox.parsing import ParsedSource, error, parse_source
from sandbox.strategy_settings import warmup_problems
from sandbox.transform import is_rewritable_augmented_target
from sandbox.wake_calls import wake_problems

_FALLBACK_API = frozenset(
    {
        "buy",
        "sell",
        "close_position",
        "cancel",
        "indicator",
        "log",
        "get_position_size",
        "get_cash",
        "get_equity",
        "get_margin_ratio",
        "position",
        "data",
        "params",
        "initialize",
        "on_data",
    }
)
logger = logging.getLogger(__name__)
_SURROGATE = re.compile("[\ud800-\udfff]")
_MODULES_SENTENCE = ", ".join(policy.ALLOWED_MODULES)


def strategy_api_names() -> frozenset[str]:
    """Public names of the engine's Strategy base class (the API a strategy must not redefine)."""
    try:
        from app.engine import Strategy
    except ImportError:
        return _FALLBACK_API
    return frozenset(name for name in dir(Strategy) if not name.startswith("_")) | _FALLBACK_API


def protected_api_names() -> frozenset[str]:
    """Strategy API names a user class or `self.<name> = ...` must not replace."""
    return strategy_api_names() - policy.OVERRIDABLE_METHODS - policy.STRATEGY_SETTINGS


class _Checker:
    """Looks at every node of the tree once, without recursion, and records a Diagnostic for
    every refused construct. Default deny: a node kind must be in policy.ALLOWED_NODE_KINDS;
    policy.REFUSED_NODE_KINDS explains the refused ones, and any other kind (one a newer
    Python adds) is refused as unknown. Allowed kinds may have a check in `checks` with
    finer rules."""

    def __init__(
        self, parsed: ParsedSource, bound_names: set[str], protected: frozenset[str]
    ) -> None:
        self.parsed = parsed
        self.found: list[Diagnostic] = []
        self.bound_names = bound_names
        self.protected = protected
        self.checks: dict[type[ast.AST], Callable[[Any], None]] = {
            ast.Import: self._check_import,
            ast.ImportFrom: self._check_import_from,
            ast.alias: self._check_alias,
            ast.Name: self._check_name,
            ast.Attribute: self._check_attribute,
            ast.Constant: self._check_constant,
            ast.ClassDef: self._check_class_def,
            ast.FunctionDef: self._check_function_def,
            ast.arg: self._check_arg,
            ast.ExceptHandler: self._check_except_handler,
            ast.AugAssign: self._check_aug_assign,
            ast.Assign: self._check_assign,
            ast.Call: self._check_call,
        }

    def run(self) -> list[Diagnostic]:
        """Every diagnostic of the tree's nodes (unsorted)."""
        for node in self.parsed.nodes:
            kind = type(node).__name__
            if kind in policy.REFUSED_NODE_KINDS:
                message, hint = policy.REFUSED_NODE_KINDS[kind]
                self.report(node, "SB401", message, hint)
            elif kind not in policy.ALLOWED_NODE_KINDS:
                self.report(
                    node,
                    "SB404",
                    f"this kind of Python syntax ({kind}) is not supported in strategies",
                    "write it with plain statements, functions and classes",
                )
            check = self.checks.get(type(node))
            if check is not None:
                check(node)
        return self.found

    # -- recording ----------------------------------------------------------------------------
    def report(
        self, node: ast.AST, code: str, message: str, hint: str = "", suggestion: str = ""
    ) -> None:
        self.found.append(self.parsed.diagnostic(node, code, message, hint, suggestion))

    # -- imports ------------------------------------------------------------------------------
    def _check_import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)

    def _check_import_from(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        if not self._check_module(node, module):
            return
        exports = policy.MODULE_EXPORTS[module]
        for alias in node.names:
            if alias.name == "*":
                self.report(
                    node,
                    "SB102",
                    f"'from {module} import *' is not allowed",
                    "import the names you use one by one",
                )
            elif alias.name not in exports:
                close = difflib.get_close_matches(alias.name, sorted(exports), n=1)
                self.report(
                    node,
                    "SB102",
                    f"'{alias.name}' is not available from {module}",
                    f"did you mean '{close[0]}'?" if close else "",
                    close[0] if close else "",
                )

    def _check_module(self, node: ast.AST, module: str) -> bool:
        if module in policy.MODULE_EXPORTS:
            return True
        close = difflib.get_close_matches(module, policy.ALLOWED_MODULES, n=1)
        self.report(
            node,
            "SB101",
            f"importing '{module}' is not allowed; available modules are {_MODULES_SENTENCE}",
            "strategies can only use these modules (numpy and pandas through safe versions)",
            close[0] if close else "",
        )
        return False

    def _check_alias(self, node: ast.alias) -> None:
        self._check_binding(node, node.asname)

    def _check_binding(self, node: ast.AST, name: str | None) -> None:
        if name and name.startswith("_"):
            self.report(
                node,
                "SB203",
                f"the name '{name}' starts with '_', which is reserved",
                "choose a name without a leading underscore",
            )

    # -- names and attributes -----------------------------------------------------------------
    def _check_name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__") and name.endswith("__"):
            self.report(
                node,
                "SB201",
                f"the special name '{name}' is not allowed",
                "double-underscore names reach Python's internals",
            )
        elif name.startswith("_"):
            self._check_binding(node, name)
        elif name in policy.FORBIDDEN_CALLS and name not in self.bound_names:
            self.report(node, "SB301", f"'{name}' is not allowed: {policy.FORBIDDEN_CALLS[name]}")

    def _check_attribute(self, node: ast.Attribute) -> None:
        attr = node.attr
        if attr.startswith("__") and attr.endswith("__"):
            self.report(
                node,
                "SB202",
                f"the special attribute '.{attr}' is not allowed",
                "double-underscore attributes reach Python's internals",
            )
        elif attr.startswith("_"):
            self.report(
                node,
                "SB203",
                f"the private attribute '.{attr}' is not allowed",
                "names starting with '_' are internal to the platform",
            )
        elif attr in ("format", "format_map"):
            self.report(
                node,
                "SB304",
                f"'.{attr}()' is not allowed on strings",
                'use an f-string such as f"{price:.2f}"',
            )
        elif attr in policy.INTERNAL_ATTRIBUTES:
            self.report(
                node, "SB302", f"'.{attr}' reaches interpreter internals and is not allowed"
            )
        elif attr in policy.DANGEROUS_ATTRIBUTES:
            self.report(
                node, "SB305", f"'.{attr}' is not allowed: {policy.DANGEROUS_ATTRIBUTES[attr]}"
            )
        elif policy.is_file_method(attr):
            self.report(
                node,
                "SB305",
                f"'.{attr}' is not allowed: strategies cannot read or "
                "write files or serialise data",
            )

    def _check_constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and (match := _SURROGATE.search(node.value)):
            self.report(
                node,
                "SB002",
                f"this text holds \\u{ord(match.group()):04x}, half of a UTF-16 pair, which "
                "is not a character and cannot be stored or shown",
                "write the character itself, or both halves as one \\U escape",
            )
        if isinstance(node.value, str) and _has_format_field_access(node.value):
            self.report(
                node,
                "SB303",
                "a format string reaching into attributes or items "
                "('{0.x}' or '{0[x]}') is not allowed",
                "use an f-string",
            )

    # -- statements ---------------------------------------------------------------------------
    def _check_class_def(self, node: ast.ClassDef) -> None:
        self._check_binding(node, node.name)
        self._refuse_decorators(node.decorator_list)
        for keyword in node.keywords:
            self.report(keyword, "SB402", "class keywords such as metaclass= are not allowed")

    def _check_function_def(self, node: ast.FunctionDef) -> None:
        self._check_binding(node, node.name)
        self._refuse_decorators(node.decorator_list)

    def _check_arg(self, node: ast.arg) -> None:
        self._check_binding(node, node.arg)

    def _refuse_decorators(self, decorators: Iterable[ast.expr]) -> None:
        for decorator in decorators:
            self.report(
                decorator,
                "SB402",
                "decorators are not allowed in strategies",
                "call the function directly instead",
            )

    def _check_except_handler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.report(
                node,
                "SB401",
                "a bare 'except:' is not allowed",
                "catch Exception (or a narrower error) instead",
            )
        self._check_binding(node, node.name)

    def _check_aug_assign(self, node: ast.AugAssign) -> None:
        target = node.target
        if isinstance(target, ast.Attribute | ast.Subscript) and not (
            is_rewritable_augmented_target(target)
        ):
            text = ast.unparse(target)
            op = _OPERATOR_TEXT.get(type(node.op), "+")
            value = ast.unparse(node.value)
            fix = f"{text} = {text} {op} {value}"
            self.report(
                node,
                "SB403",
                f"'{text} {op}= ...' is not supported in strategies",
                f"write it out: {fix}"[:300],
                fix,
            )

    def _check_assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_protected_target(target)

    def _check_protected_target(self, target: ast.expr) -> None:
        if (
            isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name)
            and target.value.id == "self"
            and target.attr in self.protected
        ):
            self.report(
                target,
                "SB504",
                f"'self.{target.attr}' is part of the Strategy API and cannot be replaced",
                "store your value under another name",
            )

    def _check_call(self, node: ast.Call) -> None:
        if is_indicator_call(node):
            for problem in lookahead_problems(node):
                self.report(*problem)
            self.found.extend(unknown_indicator_problems(self.parsed, node))


_OPERATOR_TEXT: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}


def _has_format_field_access(text: str) -> bool:
    """True when a str.format-style field reads an attribute or an item, like '{0.__class__}'."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name]
    except ValueError:
        return False
    return any("." in name or "[" in name for name in fields)


def _bound_names(nodes: list[ast.AST]) -> set[str]:
    """Every name the module itself binds (so `id = 3` followed by `id` is not flagged)."""
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names & (set(policy.FORBIDDEN_CALLS) - {"__import__", "__builtins__"})


def validate_source(
    code: str, filename: str = "strategy.py", *, strategy_name: str | None = None
) -> list[Diagnostic]:
    """Every problem in a strategy's source, sorted by position; empty when it may run.

    Never raises: a source too large, too deep or not readable as text is a diagnostic like
    any other (`sandbox.parsing`). `filename` only names the source in syntax errors;
    `strategy_name` picks one class when the file defines several strategies.
    """
    try:
        found = _diagnostics(code, filename, strategy_name)
    except Exception:  # fail closed: a bug in a validator rule refuses the source, never raises
        logger.exception("validation failed file=%s", filename)
        found = [
            error(
                1,
                1,
                "SB000",
                "this source could not be validated, so it cannot run",
                "simplify the code around the part you changed last",
            )
        ]
    return _capped(sorted(found, key=lambda d: (d.line, d.col, d.code)))


def _diagnostics(code: str, filename: str, strategy_name: str | None) -> list[Diagnostic]:
    parsed = parse_source(code, filename)
    found = list(parsed.diagnostics)
    if parsed.tree is not None:
        protected = protected_api_names()
        found += _Checker(parsed, _bound_names(parsed.nodes), protected).run()
        found += check_classes(parsed, parsed.tree, protected, strategy_name)
        found += unknown_self_names(parsed, parsed.tree, strategy_api_names())
        every_class = [n for n in ast.walk(parsed.tree) if isinstance(n, ast.ClassDef)]
        strategies = strategy_class_names(every_class)
        for node in every_class:
            if node.name in strategies:
                found += warmup_problems(parsed, node)
                found += wake_problems(parsed, node)
    return found


def _capped(found: list[Diagnostic]) -> list[Diagnostic]:
    """At most `max_diagnostics`, each with bounded text, the rest counted in one last
    diagnostic."""
    cap = policy.SOURCE_LIMITS.max_diagnostics
    found = [bounded(d, policy.MAX_DIAGNOSTIC_CHARS) for d in found[: cap + 1]] + found[cap + 1 :]
    if len(found) <= cap:
        return found
    first_hidden = found[cap]
    return [
        *found[:cap],
        error(
            first_hidden.line,
            first_hidden.col,
            "SB019",
            f"{len(found) - cap:,} more problems are not shown",
            "fix the ones above and validate again",
        ),
    ]


def chosen_strategy_name(code: str, strategy_name: str | None = None) -> str:
    """The class to run in already-validated source."""
    if strategy_name is not None:
        return strategy_name
    classes = {info.node.name: info for info in module_classes(ast.parse(code))}
    return strategy_candidates(classes)[0]


def declared_params(code: str, strategy_name: str | None = None) -> dict[str, object]:
    """The literal `params = {...}` of the strategy class, read without running anything.

    Empty when the source does not validate, or the class declares none. Parameters
    inherited from classes in the file are merged along the class's method resolution order,
    as Python does (`sandbox.inspection` computes it; the subclass's values win).
    """
    from sandbox.inspection import inspect_source  # it builds on this module

    inspection = inspect_source(code, strategy_name=strategy_name)
    return dict(inspection.defaults) if inspection.is_runnable else {}
