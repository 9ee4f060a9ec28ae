"""Names a strategy uses that nothing defines, found before it runs: an unknown indicator name
(SB602) and a `self.<name>` a strategy class reads but neither the Strategy API nor the file
ever sets (SB508), each with a "did you mean" at its line.

Both are conservative: an indicator name is checked only when written as a literal, and a
`self.` name counts as set when anything in the file binds it (an assignment to `self.<name>`
in any method of any class, a method or a class attribute of any class), so a base class that
reads what its subclass sets is not flagged.
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterator

from app.engine import Strategy
from app.engine.indicator_settings import known_indicators, unknown_indicator_message
from sandbox.api_surface import FAMILIAR_NAMES
from sandbox.classes import STRATEGY_BASE
from sandbox.diagnostics import Diagnostic
from sandbox.parsing import ParsedSource

UNKNOWN_INDICATOR = "SB602"
UNKNOWN_STRATEGY_NAME = "SB508"


def unknown_indicator_problems(parsed: ParsedSource, node: ast.Call) -> list[Diagnostic]:
    """`<x>.indicator("smaa", ...)` with a literal name no indicator has (case-insensitive)."""
    if not node.args:
        return []
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and type(first.value) is str):
        return []
    name = first.value.lower()
    if name in known_indicators():
        return []
    close = difflib.get_close_matches(name, sorted(known_indicators()), n=1)
    return [
        parsed.diagnostic(
            first,
            UNKNOWN_INDICATOR,
            unknown_indicator_message(name[:40]),
            f"did you mean '{close[0]}'?" if close else "any pandas-ta indicator name works",
            f'"{close[0]}"' if close else "",
        )
    ]


def unknown_self_names(
    parsed: ParsedSource, tree: ast.Module, api: frozenset[str]
) -> list[Diagnostic]:
    """Each `self.<name>` read in a method of a Strategy class of the file where `<name>` is
    neither in `api` (the Strategy base's public names) nor bound anywhere in the file."""
    every_class = [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    known = api | _names_set_in(tree, every_class)
    found: list[Diagnostic] = []
    for node in every_class:
        if node.name not in strategy_class_names(every_class):
            continue
        for attribute in _self_reads(node):
            name = attribute.attr
            if name in known or name.startswith("_"):
                continue
            close = [FAMILIAR_NAMES[Strategy][name]] if name in FAMILIAR_NAMES[Strategy] else []
            close = close or difflib.get_close_matches(name, sorted(known), n=1)
            found.append(
                parsed.diagnostic(
                    attribute,
                    UNKNOWN_STRATEGY_NAME,
                    f"'self.{name}' is not part of the Strategy API and is never set in this file",
                    f"did you mean 'self.{close[0]}'?"
                    if close
                    else f"set self.{name} = ... in initialize() before reading it",
                    f"self.{close[0]}" if close else "",
                )
            )
    return found


def strategy_class_names(every_class: list[ast.ClassDef]) -> set[str]:
    """Names of classes deriving from Strategy, directly or through classes of the file."""
    found: set[str] = set()
    changed = True
    while changed:
        changed = False
        for node in every_class:
            bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
            if node.name not in found and (STRATEGY_BASE in bases or bases & found):
                found.add(node.name)
                changed = True
    return found


def _names_set_in(tree: ast.Module, every_class: list[ast.ClassDef]) -> frozenset[str]:
    """Attribute names anything in the file binds: `<x>.name = ...` (any target form, `+=`,
    `for`, `del`), and the methods and class-body names of every class."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Load):
            names.add(node.attr)
    for node in every_class:
        for statement in node.body:
            names.update(_bound_by_statement(statement))
    return frozenset(names)


def _bound_by_statement(statement: ast.stmt) -> Iterator[str]:
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield statement.name
        return
    for node in ast.walk(statement):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            yield node.id


def _self_reads(node: ast.ClassDef) -> Iterator[ast.Attribute]:
    """`<first argument>.<name>` loads inside the class's own methods."""
    for method in node.body:
        if not isinstance(method, ast.FunctionDef) or not method.args.args:
            continue
        self_name = method.args.args[0].arg
        for inner in ast.walk(method):
            if (
                isinstance(inner, ast.Attribute)
                and isinstance(inner.ctx, ast.Load)
                and isinstance(inner.value, ast.Name)
                and inner.value.id == self_name
            ):
                yield inner
