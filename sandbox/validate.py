"""Static validation of strategy source: every refused construct becomes a Diagnostic."""

from __future__ import annotations

import ast
import difflib
import string
from collections.abc import Iterable
from dataclasses import dataclass, field

from sandbox import policy
from sandbox.diagnostics import Diagnostic, Severity
from sandbox.transform import is_rewritable_augmented_target

STRATEGY_BASE = "Strategy"
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
    return strategy_api_names() - policy.OVERRIDABLE_METHODS - {"params"}


@dataclass(slots=True)
class _ClassInfo:
    node: ast.ClassDef
    bases: list[str]
    is_strategy: bool = False
    methods: set[str] = field(default_factory=set)


class _Checker(ast.NodeVisitor):
    """Walks the module once and records a Diagnostic for every refused construct."""

    def __init__(self, bound_names: set[str], protected: frozenset[str]) -> None:
        self.found: list[Diagnostic] = []
        self.bound_names = bound_names
        self.protected = protected

    # -- recording ----------------------------------------------------------------------------
    def report(
        self, node: ast.AST, code: str, message: str, hint: str = "", suggestion: str = ""
    ) -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        end_line = getattr(node, "end_lineno", None) or line
        end_col = (getattr(node, "end_col_offset", None) or col) + 1
        self.found.append(
            Diagnostic(
                line, col, end_line, end_col, Severity.ERROR, code, message, hint, suggestion
            )
        )

    # -- imports ------------------------------------------------------------------------------
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(node, alias.name)
            self._check_binding(node, alias.asname)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
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
            self._check_binding(node, alias.asname)

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

    def _check_binding(self, node: ast.AST, name: str | None) -> None:
        if name and name.startswith("_"):
            self.report(
                node,
                "SB203",
                f"the name '{name}' starts with '_', which is reserved",
                "choose a name without a leading underscore",
            )

    # -- names and attributes -----------------------------------------------------------------
    def visit_Name(self, node: ast.Name) -> None:
        name = node.id
        if name.startswith("__") and name.endswith("__"):
            self.report(
                node,
                "SB201",
                f"the special name '{name}' is not allowed",
                "double-underscore names reach Python's internals",
            )
        elif name.startswith("_"):
            self.report(
                node,
                "SB203",
                f"the name '{name}' starts with '_', which is reserved",
                "choose a name without a leading underscore",
            )
        elif name in policy.FORBIDDEN_CALLS and name not in self.bound_names:
            self.report(node, "SB301", f"'{name}' is not allowed: {policy.FORBIDDEN_CALLS[name]}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._check_attribute(node, node.attr)
        self.generic_visit(node)

    def _check_attribute(self, node: ast.AST, attr: str) -> None:
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

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and _has_format_field_access(node.value):
            self.report(
                node,
                "SB303",
                "a format string reaching into attributes or items "
                "('{0.x}' or '{0[x]}') is not allowed",
                "use an f-string",
            )

    # -- statements ---------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._check_binding(node, node.name)
        self._refuse_decorators(node.decorator_list)
        for keyword in node.keywords:
            self.report(keyword, "SB402", "class keywords such as metaclass= are not allowed")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_binding(node, node.name)
        self._refuse_decorators(node.decorator_list)
        for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs]:
            self._check_binding(arg, arg.arg)
        self.generic_visit(node)

    def _refuse_decorators(self, decorators: Iterable[ast.expr]) -> None:
        for decorator in decorators:
            self.report(
                decorator,
                "SB402",
                "decorators are not allowed in strategies",
                "call the function directly instead",
            )

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.report(node, "SB401", "async functions are not allowed in strategies")

    def visit_Yield(self, node: ast.Yield) -> None:
        self.report(
            node,
            "SB401",
            "generators ('yield') are not allowed in strategies",
            "build a list instead",
        )
        self.generic_visit(node)

    def visit_YieldFrom(self, node: ast.YieldFrom) -> None:
        self.report(node, "SB401", "generators ('yield from') are not allowed in strategies")
        self.generic_visit(node)

    def visit_Await(self, node: ast.Await) -> None:
        self.report(node, "SB401", "'await' is not allowed in strategies")

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> None:
        self.report(
            node,
            "SB401",
            "generator expressions are not allowed in strategies",
            "use a list comprehension: [x for x in ...]",
        )
        self.generic_visit(node)

    def visit_With(self, node: ast.With) -> None:
        self.report(node, "SB401", "'with' blocks are not allowed in strategies")
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        self.report(
            node,
            "SB401",
            "'global' is not allowed; keep state on self",
            "for example self.count = 0 in initialize()",
        )

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        self.report(node, "SB401", "'nonlocal' is not allowed; keep state on self")

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.report(
                node,
                "SB401",
                "a bare 'except:' is not allowed",
                "catch Exception (or a narrower error) instead",
            )
        self._check_binding(node, node.name)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
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
                f"write it out: {fix}",
                fix,
            )
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_protected_target(target)
        self.generic_visit(node)

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

    def visit_Call(self, node: ast.Call) -> None:
        if _is_indicator_call(node):
            for problem in lookahead_problems(node):
                self.report(*problem)
        self.generic_visit(node)


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


def _is_indicator_call(node: ast.Call) -> bool:
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr == "indicator"


def lookahead_problems(node: ast.Call) -> list[tuple[ast.AST, str, str, str]]:
    """Literal indicator settings that would look at future bars, as report() arguments."""
    problems: list[tuple[ast.AST, str, str, str]] = []
    given = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    for name, value in given.items():
        literal = _literal(value)
        if name in policy.SHIFT_KEYWORDS and isinstance(literal, int | float) and literal < 0:
            problems.append(
                (
                    value,
                    "SB601",
                    f"{name}={literal} shifts the indicator into the future (look-ahead)",
                    f"use {name}={-literal} or leave it out",
                )
            )
        if name in policy.LOOKAHEAD_FLAGS and literal is True:
            problems.append(
                (
                    value,
                    "SB601",
                    f"{name}=True: {policy.LOOKAHEAD_FLAGS[name]}",
                    f"pass {name}=False",
                )
            )
    indicator = _literal(node.args[0]) if node.args else _literal(given.get("name"))
    if isinstance(indicator, str) and indicator.lower() in policy.LOOKAHEAD_DEFAULTS:
        flag, fix = policy.LOOKAHEAD_DEFAULTS[indicator.lower()]
        if _literal(given.get(flag)) is not False:
            problems.append(
                (node, "SB601", f"'{indicator}' looks ahead by default ({flag} is on)", fix)
            )
    return problems


def _literal(node: ast.AST | None) -> object:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _bound_names(tree: ast.Module) -> set[str]:
    """Every name the module itself binds (so `id = 3` followed by `id` is not flagged)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
    return names & (set(policy.FORBIDDEN_CALLS) - {"__import__", "__builtins__"})


def _syntax_diagnostic(error: SyntaxError) -> Diagnostic:
    line = error.lineno or 1
    col = error.offset or 1
    text = (error.text or "").strip()
    hint = f"near: {text}" if text else ""
    return Diagnostic(
        line,
        col,
        error.end_lineno or line,
        error.end_offset or col + 1,
        Severity.ERROR,
        "SB001",
        f"syntax error: {error.msg}",
        hint,
    )


def _collect_classes(tree: ast.Module) -> dict[str, _ClassInfo]:
    """Top-level classes by name (a later definition replaces an earlier one, as in Python)."""
    return {info.node.name: info for info in _class_list(tree)}


def _class_list(tree: ast.Module) -> list[_ClassInfo]:
    found: list[_ClassInfo] = []
    classes: dict[str, _ClassInfo] = {}
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        bases = [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases]
        info = _ClassInfo(node=node, bases=bases)
        info.is_strategy = any(
            b == STRATEGY_BASE or (b in classes and classes[b].is_strategy) for b in bases
        )
        info.methods = {s.name for s in node.body if isinstance(s, ast.FunctionDef)}
        classes[node.name] = info
        found.append(info)
    return found


def _check_classes(
    infos: list[_ClassInfo], protected: frozenset[str], chosen: str | None
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    classes = {info.node.name: info for info in infos}

    def add(node: ast.AST, code: str, message: str, hint: str = "") -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        found.append(Diagnostic(line, col, line, col + 1, Severity.ERROR, code, message, hint))

    for info in infos:
        name = info.node.name
        for base_node, base in zip(info.node.bases, info.bases, strict=True):
            if base != STRATEGY_BASE and base not in classes:
                add(
                    base_node,
                    "SB505",
                    f"class '{name}' may only derive from Strategy or a "
                    f"class defined in this file, not '{base}'",
                )
        if info.is_strategy:
            for stmt in info.node.body:
                if isinstance(stmt, ast.FunctionDef) and stmt.name in protected:
                    add(
                        stmt,
                        "SB504",
                        f"'{stmt.name}' is part of the Strategy API and cannot be redefined",
                        "give your method another name",
                    )
    found.extend(_check_candidates(classes, chosen))
    return found


def strategy_candidates(classes: dict[str, _ClassInfo]) -> list[str]:
    """Strategy subclasses no other class in the file derives from (the runnable leaves)."""
    used_as_base = {b for info in classes.values() for b in info.bases}
    return [n for n, i in classes.items() if i.is_strategy and n not in used_as_base]


def _check_candidates(classes: dict[str, _ClassInfo], chosen: str | None) -> list[Diagnostic]:
    candidates = strategy_candidates(classes)
    if chosen is not None:
        if chosen not in candidates:
            known = ", ".join(candidates) or "none"
            return [
                _module_error(
                    "SB502",
                    f"there is no strategy class named '{chosen}' (strategy classes here: {known})",
                )
            ]
        candidates = [chosen]
    if not candidates:
        return [
            _module_error(
                "SB501",
                "no strategy class found",
                "define a class that derives from Strategy, e.g. class MyStrategy(Strategy):",
            )
        ]
    if len(candidates) > 1:
        return [
            _module_error(
                "SB502",
                "several strategy classes found (" + ", ".join(candidates) + "); choose one to run",
            )
        ]
    return _check_on_data(classes, candidates[0])


def _check_on_data(classes: dict[str, _ClassInfo], name: str) -> list[Diagnostic]:
    current: str | None = name
    while current in classes:
        info = classes[current]
        if "on_data" in info.methods:
            return []
        current = next((b for b in info.bases if b in classes), None)
    node = classes[name].node
    return [
        Diagnostic(
            node.lineno,
            node.col_offset + 1,
            node.lineno,
            node.col_offset + 2,
            Severity.ERROR,
            "SB503",
            f"strategy '{name}' has no on_data(self, bar) method",
            "add def on_data(self, bar): with your trading rules",
        )
    ]


def _module_error(code: str, message: str, hint: str = "") -> Diagnostic:
    return Diagnostic(1, 1, 1, 2, Severity.ERROR, code, message, hint)


def validate_source(
    code: str, filename: str = "strategy.py", *, strategy_name: str | None = None
) -> list[Diagnostic]:
    """Every problem in a strategy's source, sorted by position; empty when it may run.

    `filename` only names the source in syntax errors; `strategy_name` picks one class when
    the file defines several strategies.
    """
    try:
        tree = ast.parse(code, filename=filename)
    except SyntaxError as error:
        return [_syntax_diagnostic(error)]
    except (ValueError, MemoryError, RecursionError) as error:
        return [_module_error("SB001", f"the source cannot be read: {error}")]
    protected = protected_api_names()
    checker = _Checker(_bound_names(tree), protected)
    checker.visit(tree)
    found = checker.found + _check_classes(_class_list(tree), protected, strategy_name)
    return sorted(found, key=lambda d: (d.line, d.col, d.code))


def chosen_strategy_name(code: str, strategy_name: str | None = None) -> str:
    """The class to run in already-validated source."""
    if strategy_name is not None:
        return strategy_name
    candidates = strategy_candidates(_collect_classes(ast.parse(code)))
    return candidates[0]


def declared_params(code: str, strategy_name: str | None = None) -> dict[str, object]:
    """The literal `params = {...}` of the strategy class, read without running anything.

    Empty when the class declares none or the dict is not a literal. Parameters inherited from
    another class in the file are included (the subclass's values win).
    """
    classes = _collect_classes(ast.parse(code))
    name: str | None = chosen_strategy_name(code, strategy_name)
    chain: list[_ClassInfo] = []
    while name in classes:
        info = classes[name]
        chain.append(info)
        name = next((b for b in info.bases if b in classes), None)
    params: dict[str, object] = {}
    for info in reversed(chain):
        for statement in info.node.body:
            if (
                isinstance(statement, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "params" for t in statement.targets)
                and isinstance(value := _literal(statement.value), dict)
            ):
                params.update({str(k): v for k, v in value.items()})
    return params
