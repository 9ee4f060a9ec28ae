"""Indicator settings that look at future bars, when written as literals (SB601).

Computed values are the engine's to catch (its per-indicator setting allow-lists and repaint
check); this layer names the obvious ones at their line before anything runs.
"""

from __future__ import annotations

import ast

from sandbox import policy
from sandbox.classes import is_literal_value, literal


def is_indicator_call(node: ast.Call) -> bool:
    """True for `<anything>.indicator(...)`, the Strategy API's indicator declaration."""
    func = node.func
    return isinstance(func, ast.Attribute) and func.attr == "indicator"


def lookahead_problems(node: ast.Call) -> list[tuple[ast.AST, str, str, str]]:
    """Literal indicator settings that would look at future bars, as report() arguments."""
    problems: list[tuple[ast.AST, str, str, str]] = []
    given = {kw.arg: kw.value for kw in node.keywords if kw.arg}
    for name, value in given.items():
        setting = _literal(value)
        if name in policy.SHIFT_KEYWORDS and isinstance(setting, int | float) and setting < 0:
            problems.append(
                (
                    value,
                    "SB601",
                    f"{name}={setting} shifts the indicator into the future (look-ahead)",
                    f"use {name}={-setting} or leave it out",
                )
            )
        if name in policy.LOOKAHEAD_FLAGS and setting is True:
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
    value = literal(node)
    return value if is_literal_value(value) else None
