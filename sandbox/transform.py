"""Our RestrictedPython policy: its checks, plus unguarded `self.x` reads in checked methods.

Reading an attribute of the strategy's own object is the hottest path of every bar. A method
defined directly in a class, taking `self` first and never rebinding `self` anywhere in its
body, starts with `_check_self_(self)`: the guard verifies once per call that `self` is an
instance of a class from the strategy source whose attribute rule is fully open. Inside the
method `self` cannot change, so `self.x` compiles to a plain attribute read, equivalent to the
guarded one. Any other method (or a nested function) keeps `_getattr_` on every access.
"""

from __future__ import annotations

import ast
import copy
from typing import Any, Final, override

from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

SELF: Final = "self"
CHECK_SELF: Final = "_check_self_"
_TRUSTED_FLAG: Final = "_sandbox_trusted_self"


def _bound_names(function: ast.FunctionDef) -> set[str]:
    """Every name bound anywhere inside `function` except its first parameter."""
    names: set[str] = set()
    first = _first_parameter(function)
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            names.add(node.id)
        elif isinstance(node, ast.arg) and node is not first:
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
        elif isinstance(node, ast.Global | ast.Nonlocal):
            names.update(node.names)
        elif (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            and node is not function
        ):
            names.add(node.name)
    return names


def _is_simple(node: ast.expr) -> bool:
    """A name, a constant, or a chain of attributes on a name: free of side effects to re-read."""
    if isinstance(node, ast.Name | ast.Constant):
        return True
    return isinstance(node, ast.Attribute) and _is_simple(node.value)


def is_rewritable_augmented_target(target: ast.expr) -> bool:
    """`self.n += 1` or `self.counts[key] += 1`: safe to rewrite as `t = t + value`."""
    if isinstance(target, ast.Attribute):
        return _is_simple(target.value)
    if isinstance(target, ast.Subscript):
        return _is_simple(target.value) and _is_simple(target.slice)
    return False


def _first_parameter(function: ast.FunctionDef) -> ast.arg | None:
    positional = [*function.args.posonlyargs, *function.args.args]
    return positional[0] if positional else None


def is_trusted_method(function: ast.FunctionDef) -> bool:
    """True for `def m(self, ...)` with no decorators that never rebinds `self`."""
    first = _first_parameter(function)
    return (
        first is not None
        and first.arg == SELF
        and not function.decorator_list
        and SELF not in _bound_names(function)
    )


class StrategyPolicy(RestrictingNodeTransformer):
    """RestrictedPython's transformer with checked-self methods (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trusted_stack: list[bool] = []

    @override
    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef) and is_trusted_method(statement):
                setattr(statement, _TRUSTED_FLAG, True)
        return super().visit_ClassDef(node)

    @override
    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        trusted = bool(getattr(node, _TRUSTED_FLAG, False))
        self._trusted_stack.append(trusted)
        try:
            result = super().visit_FunctionDef(node)
        finally:
            self._trusted_stack.pop()
        if trusted and isinstance(result, ast.FunctionDef):
            check = ast.Expr(
                ast.Call(ast.Name(CHECK_SELF, ast.Load()), [ast.Name(SELF, ast.Load())], [])
            )
            ast.copy_location(check, result.body[0])
            ast.fix_missing_locations(check)
            result.body.insert(0, check)
        return result

    @override
    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        """`self.n += 1` becomes `self.n = self.n + 1` (RestrictedPython refuses the former).

        Only for targets whose parts are names or constants, so reading them twice is the same
        as reading them once; the read goes through `_getattr_`/`_getitem_` and the write
        through `_write_` like any other.
        """
        if not is_rewritable_augmented_target(node.target):
            return super().visit_AugAssign(node)
        load = copy.deepcopy(node.target)
        load.ctx = ast.Load()
        assign = ast.Assign(targets=[node.target], value=ast.BinOp(load, node.op, node.value))
        ast.copy_location(assign, node)
        ast.fix_missing_locations(assign)
        return self.visit(assign)

    @override
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if (
            self._trusted_stack
            and self._trusted_stack[-1]
            and isinstance(node.ctx, ast.Load)
            and isinstance(node.value, ast.Name)
            and node.value.id == SELF
            and not node.attr.startswith("_")
            and not node.attr.endswith("__roles__")
            and node.attr not in INSPECT_ATTRIBUTES
        ):
            return node  # self was checked on entry and is never rebound: a plain read
        return super().visit_Attribute(node)
