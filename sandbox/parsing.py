"""Strategy source to syntax tree, or diagnostics: text problems, size limits, parse errors.

Validation must answer every input with diagnostics and never raise, so the order matters:

1. the text itself (byte order mark, NUL characters, lone surrogates), then its size in bytes
   and lines, checked on the string: nothing else runs on a source refused here;
2. its tokens, counted by Python's own tokenizer before parsing (a parse tree costs about two
   objects per token, so this bounds the parent's memory);
3. `ast.parse`, whose SyntaxError, RecursionError and MemoryError become diagnostics;
4. one iterative walk of the tree measuring its depth, its statement nesting and its numbers
   of nodes, classes and functions: nothing recursive touches a tree that is too deep;
5. `compile()` of the tree (no code runs), so what the compiler alone refuses ("'break'
   outside loop", "too many statically nested blocks") is a diagnostic here, not in the
   worker. The limits keep RestrictedPython's recursive transformer far from Python's
   recursion limit on whatever passes.

Python reports columns as UTF-8 byte offsets; diagnostics carry 1-based character columns,
as editors count them.
"""

from __future__ import annotations

import ast
import io
import re
import threading
import tokenize
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from sandbox.diagnostics import Diagnostic, Severity
from sandbox.policy import SOURCE_LIMITS, SourceLimits

# Codes of the problems after which a source is not parsed further (not text, too large, too
# deep): a reader of the source that sees one of them must not parse it again itself.
SOURCE_LIMIT_CODES: Final = frozenset(
    {"SB002", "SB010", "SB011", "SB012", "SB013", "SB014", "SB015", "SB016", "SB017"}
)

# catch_warnings swaps process-wide state (until Python 3.14's context-aware warnings): two
# validations in threads of the server interleaving their enter/exit would leave the wrong
# filters installed, so the parser's warnings are recorded one validation at a time.
_WARNINGS_LOCK: Final = threading.Lock()

# Python's own line ends (str.splitlines also splits at \f, \v, \x1c-\x1e, \x85, \u2028 ...).
_LINE_END = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile("[\ud800-\udfff]")
_BOM = "\ufeff"
_COMPOUND = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.If,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.Try,
    ast.TryStar,
    ast.With,
    ast.AsyncWith,
    ast.Match,
)
# SyntaxErrors that are Python's own size limits, with the code of the limit they belong to.
_LIMIT_SYNTAX_ERRORS = {
    "too many nested parentheses": ("SB013", "Python reads at most 200 nested brackets"),
    "too many levels of indentation": ("SB014", "Python reads at most 100 indentation levels"),
    "too many statically nested blocks": (
        "SB014",
        "Python compiles at most 20 loops and try blocks inside one another",
    ),
}


@dataclass(slots=True)
class ParsedSource:
    """The outcome of reading a source: its tree (None when it could not be built safely),
    the diagnostics found on the way, and its lines (for columns and hints)."""

    tree: ast.Module | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    nodes: list[ast.AST] = field(default_factory=list)  # every node of `tree`, walked once

    def column(self, line: int, byte_offset: int) -> int:
        """The 1-based character column of a UTF-8 byte offset on a 1-based line."""
        if not 1 <= line <= len(self.lines):
            return byte_offset + 1
        prefix = self.lines[line - 1].encode("utf-8", "surrogatepass")[:byte_offset]
        return len(prefix.decode("utf-8", "ignore")) + 1

    def diagnostic(
        self, node: ast.AST, code: str, message: str, hint: str = "", suggestion: str = ""
    ) -> Diagnostic:
        """An error at `node`'s span, in 1-based lines and character columns."""
        line = getattr(node, "lineno", 1)
        col = self.column(line, getattr(node, "col_offset", 0))
        end_line = getattr(node, "end_lineno", None) or line
        end_offset = getattr(node, "end_col_offset", None)
        end_col = self.column(end_line, end_offset) if end_offset is not None else col + 1
        return Diagnostic(
            line, col, end_line, end_col, Severity.ERROR, code, message, hint, suggestion
        )


def error(line: int, col: int, code: str, message: str, hint: str = "") -> Diagnostic:
    """An error diagnostic one character wide at (line, col)."""
    return Diagnostic(line, col, line, col + 1, Severity.ERROR, code, message, hint)


def parse_source(
    code: str, filename: str = "strategy.py", limits: SourceLimits = SOURCE_LIMITS
) -> ParsedSource:
    """Read `code` into a checked syntax tree, or say with diagnostics why it can't be."""
    too_large = _size_problem(code, limits)
    if too_large is not None:  # before anything that walks the text
        return ParsedSource(None, [too_large], [])
    lines = _LINE_END.split(code)
    found = _text_problems(code, lines, limits)
    if found:
        return ParsedSource(None, found, lines)
    found = _long_lines(lines, limits)
    tokens = _count_tokens(code, limits.max_tokens)
    if tokens > limits.max_tokens:
        found.append(
            error(
                1,
                1,
                "SB017",
                f"the strategy is too large: more than {limits.max_tokens:,} tokens "
                "(names, numbers, operators, ...)",
                "split the work into fewer, simpler statements",
            )
        )
        return ParsedSource(None, found, lines)
    parsed = ParsedSource(None, found, lines)
    with _WARNINGS_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parsed.tree = _parse(code, filename, parsed)
        if parsed.tree is not None:
            measured = _measure(parsed.tree, parsed, limits)
            if measured:
                parsed.diagnostics.extend(measured)
                parsed.tree = None
                parsed.nodes = []
            else:
                parsed.diagnostics.extend(_compile_problems(parsed.tree, filename))
    parsed.diagnostics.extend(_warning_diagnostics(caught))
    return parsed


def _text_problems(code: str, lines: list[str], limits: SourceLimits) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if code.startswith(_BOM):
        found.append(
            error(
                1,
                1,
                "SB002",
                "the source starts with a byte order mark (U+FEFF)",
                "save the file as UTF-8 without a byte order mark",
            )
        )
    for number, text in enumerate(lines, start=1):
        if "\x00" in text:
            found.append(
                error(
                    number,
                    text.index("\x00") + 1,
                    "SB002",
                    "the source holds a NUL character, so it is not text",
                )
            )
        if match := _SURROGATE.search(text):
            found.append(
                error(
                    number,
                    match.start() + 1,
                    "SB002",
                    f"the source holds U+{ord(match.group()):04X}, half of a UTF-16 pair, "
                    "which is not a character",
                    "retype the text around it",
                )
            )
        if len(found) >= limits.max_diagnostics:
            break
    if len(lines) > limits.max_lines:
        found.append(
            error(
                limits.max_lines + 1,
                1,
                "SB011",
                f"the strategy has too many lines: {len(lines):,}, "
                f"the limit is {limits.max_lines:,}",
            )
        )
    return found


def _size_problem(code: str, limits: SourceLimits) -> Diagnostic | None:
    """SB010 when `code` is over the byte limit (a character is at least one UTF-8 byte, so
    a string longer than the limit is not encoded to know)."""
    if len(code) <= limits.max_bytes:
        size = len(code.encode("utf-8", "surrogatepass"))
        if size <= limits.max_bytes:
            return None
        shown = f"{size:,} bytes"
    else:
        shown = f"{len(code):,} characters"
    return error(
        1,
        1,
        "SB010",
        f"the strategy is too large: {shown}, the limit is {limits.max_bytes:,} bytes",
    )


def _long_lines(lines: list[str], limits: SourceLimits) -> list[Diagnostic]:
    return [
        error(
            number,
            limits.max_line_chars + 1,
            "SB012",
            f"line {number} is too long: {len(text):,} characters, "
            f"the limit is {limits.max_line_chars:,}",
            "break it over several lines",
        )
        for number, text in enumerate(lines, start=1)
        if len(text) > limits.max_line_chars
    ]


def _count_tokens(code: str, cap: int) -> int:
    """Tokens in `code`, counting stops just past `cap`; a tokenizer error ends the count
    (the parser then reports that error with its position)."""
    count = 0
    try:
        for _ in tokenize.generate_tokens(io.StringIO(code).readline):
            count += 1
            if count > cap:
                break
    except (SyntaxError, tokenize.TokenError, ValueError):
        pass
    return count


def _parse(code: str, filename: str, parsed: ParsedSource) -> ast.Module | None:
    try:
        return ast.parse(code, filename=filename)
    except SyntaxError as problem:
        parsed.diagnostics.append(syntax_diagnostic(problem))
    except RecursionError:
        line = _busiest_line(code)
        parsed.diagnostics.append(
            error(
                line,
                1,
                "SB013",
                f"line {line} is nested too deeply for Python to read",
                "split the expression into several statements",
            )
        )
    except MemoryError:
        parsed.diagnostics.append(error(1, 1, "SB017", "the strategy is too large to read"))
    except ValueError as problem:  # text Python refuses that the checks above did not foresee
        parsed.diagnostics.append(error(1, 1, "SB002", f"the source cannot be read: {problem}"))
    return None


def syntax_diagnostic(problem: SyntaxError) -> Diagnostic:
    """A SyntaxError as a diagnostic; Python's own size limits get their limit's code."""
    line = problem.lineno or 1
    col = max(problem.offset or 1, 1)
    for text, (code, hint) in _LIMIT_SYNTAX_ERRORS.items():
        if problem.msg.startswith(text):
            return error(line, col, code, f"the strategy is nested too deeply: {problem.msg}", hint)
    near = _printable((problem.text or "").strip()[:200])
    return Diagnostic(
        line,
        col,
        max(problem.end_lineno or line, line),
        max(problem.end_offset or col + 1, 1),
        Severity.ERROR,
        "SB001",
        f"syntax error: {problem.msg}",
        f"near: {near}" if near else "",
    )


def _printable(text: str) -> str:
    """`text` with control and other non-printable characters escaped (a hint is printed to
    terminals and shown in the editor)."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _busiest_line(code: str) -> int:
    """The line with the most operators and brackets (where a parser overflow comes from)."""
    counts = [sum(map(text.count, "+-*/%&|^<>=([{.,")) for text in _LINE_END.split(code)]
    return counts.index(max(counts)) + 1 if counts else 1


def _walk_with_depth(tree: ast.Module) -> Iterator[tuple[ast.AST, int, int]]:
    """Every node with its depth (the module is 1) and the number of compound statements
    around it, in source order, without recursion."""
    stack: list[tuple[ast.AST, int, int]] = [(tree, 1, 0)]
    while stack:
        node, depth, blocks = stack.pop()
        yield node, depth, blocks
        inner = blocks + 1 if isinstance(node, _COMPOUND) else blocks
        stack.extend(
            (child, depth + 1, inner) for child in reversed(list(ast.iter_child_nodes(node)))
        )


def _measure(tree: ast.Module, parsed: ParsedSource, limits: SourceLimits) -> list[Diagnostic]:
    """Diagnostics for a tree too deep or too large for the steps after validation."""
    found: list[Diagnostic] = []
    nodes = classes = functions = 0
    is_too_deep = is_too_nested = False
    for node, depth, blocks in _walk_with_depth(tree):
        parsed.nodes.append(node)
        nodes += 1
        classes += isinstance(node, ast.ClassDef)
        functions += isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        if depth > limits.max_nesting_depth and not is_too_deep:
            is_too_deep = True
            found.append(_at(parsed, node, "SB013", _too_deep(limits)))
        if blocks > limits.max_block_depth and isinstance(node, ast.stmt) and not is_too_nested:
            is_too_nested = True
            found.append(
                _at(
                    parsed,
                    node,
                    "SB014",
                    f"statements are nested too deeply: more than {limits.max_block_depth} "
                    "blocks (def, class, if, for, while, try) inside one another",
                    "move the inner part into a method of its own",
                )
            )
    found.extend(_count_problems(nodes, classes, functions, limits))
    return found


def _too_deep(limits: SourceLimits) -> str:
    return (
        f"this expression is nested too deeply: more than {limits.max_nesting_depth} levels "
        "(long chains such as a + b + c + ... count one level per operator)"
    )


def _at(parsed: ParsedSource, node: ast.AST, code: str, message: str, hint: str = "") -> Diagnostic:
    hint = hint or "split it into several statements with intermediate variables"
    return parsed.diagnostic(node, code, message, hint)


def _count_problems(
    nodes: int, classes: int, functions: int, limits: SourceLimits
) -> list[Diagnostic]:
    found: list[Diagnostic] = []
    if nodes > limits.max_nodes:
        found.append(
            error(
                1,
                1,
                "SB017",
                f"the strategy is too large: {nodes:,} syntax-tree nodes, "
                f"the limit is {limits.max_nodes:,}",
            )
        )
    if classes > limits.max_classes:
        found.append(
            error(
                1,
                1,
                "SB015",
                f"the strategy defines too many classes: {classes:,}, "
                f"the limit is {limits.max_classes:,}",
            )
        )
    if functions > limits.max_functions:
        found.append(
            error(
                1,
                1,
                "SB016",
                f"the strategy defines too many functions: {functions:,}, "
                f"the limit is {limits.max_functions:,}",
            )
        )
    return found


def _compile_problems(tree: ast.Module, filename: str) -> list[Diagnostic]:
    """What CPython's compiler refuses in a tree the parser accepted (nothing is run)."""
    try:
        compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as problem:
        return [syntax_diagnostic(problem)]
    except RecursionError:
        return [error(1, 1, "SB013", "the strategy is nested too deeply to compile")]
    except (MemoryError, ValueError) as problem:
        return [error(1, 1, "SB017", f"the strategy cannot be compiled: {problem}")]
    return []


def _warning_diagnostics(caught: list[warnings.WarningMessage]) -> list[Diagnostic]:
    """Python's SyntaxWarnings (an invalid escape such as '\\d', 'is' with a literal) as
    warnings at their lines, each once."""
    seen: set[tuple[int, str]] = set()
    found: list[Diagnostic] = []
    for caught_warning in caught:
        if not issubclass(caught_warning.category, SyntaxWarning):
            continue
        key = (caught_warning.lineno or 1, str(caught_warning.message))
        if key in seen:
            continue
        seen.add(key)
        found.append(
            Diagnostic(key[0], 1, key[0], 2, Severity.WARNING, "SB090", f"Python warns: {key[1]}")
        )
    return found
