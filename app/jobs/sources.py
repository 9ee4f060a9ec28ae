"""What can be read from strategy source without running it: its title and default params."""

from __future__ import annotations

import ast

from app.engine import ParamValue

STRATEGY_BASE = "Strategy"


def source_title(code: str) -> str:
    """The first line of the module docstring ('' when there is none or the code is broken)."""
    try:
        docstring = ast.get_docstring(ast.parse(code))
    except (SyntaxError, ValueError):
        return ""
    return docstring.strip().splitlines()[0] if docstring and docstring.strip() else ""


def default_params(code: str) -> dict[str, ParamValue]:
    """The literal `params = {...}` of the first Strategy subclass ({} when none is readable)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and _derives_from_strategy(node):
            return _params_of(node)
    return {}


def strategy_class_name(code: str) -> str:
    """The name of the first Strategy subclass ('' when there is none)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return ""
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and _derives_from_strategy(node):
            return node.name
    return ""


def _derives_from_strategy(node: ast.ClassDef) -> bool:
    return any(isinstance(base, ast.Name) and base.id == STRATEGY_BASE for base in node.bases)


def _params_of(node: ast.ClassDef) -> dict[str, ParamValue]:
    for statement in node.body:
        if (
            isinstance(statement, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "params" for t in statement.targets)
            and isinstance(statement.value, ast.Dict)
        ):
            try:
                value = ast.literal_eval(statement.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return {}
            return {
                str(name): item
                for name, item in value.items()
                if isinstance(name, str) and isinstance(item, bool | int | float | str)
            }
    return {}
