"""Validation never raises: text that is not source, sources too large or too deep, and what
only the compiler refuses are diagnostics with a stable code, and what passes compiles."""

from __future__ import annotations

import sys
import threading
import warnings
from collections.abc import Callable

import pytest

from sandbox import compile_strategy, validate, validate_source
from sandbox.policy import SOURCE_LIMITS

LIMITS = SOURCE_LIMITS
HEAD = "class S(Strategy):\n    def on_data(self, bar):\n        x = {}\n"
ON_DATA = "class S(Strategy):\n    def on_data(self, bar):\n        pass\n"
DEPTH_CODES = {"SB013", "SB014", "SB017", "SB012"}


def codes(source: str) -> set[str]:
    return {d.code for d in validate_source(source)}


def nested_blocks(levels: int, head: str = "if bar:") -> str:
    """`levels` compound statements inside on_data (itself inside 2: the class and the def)."""
    lines = [" " * (8 + 4 * i) + head for i in range(levels)]
    return ON_DATA + "\n".join(lines) + "\n" + " " * (8 + 4 * levels) + "pass\n"


# -- too deep ---------------------------------------------------------------------------------

DEEP_SOURCES: dict[str, str] = {
    "flat sum of 300": HEAD.format("+".join(["bar.close"] * 300)),
    "flat sum of 3,000": HEAD.format("+".join(["a"] * 3_000)),
    "flat sum of 100,000": HEAD.format("+".join(["a"] * 100_000)),
    "sum over lines": HEAD.format("(" + "+\n".join(["a"] * 500) + ")"),
    "string concatenation": HEAD.format(" + ".join(['"x"'] * 400)),
    "210 nested brackets": HEAD.format("(" * 210 + "1" + ")" * 210),
    "150 nested lists": HEAD.format("[" * 150 + "]" * 150),
    "250 nested lists": HEAD.format("[" * 250 + "]" * 250),
    "nested calls": HEAD.format("abs(" * 180 + "1" + ")" * 180),
    "attribute chain": HEAD.format("bar" + ".close" * 300),
    "subscript chain": HEAD.format("bar" + "[0]" * 300),
    "unary chain": HEAD.format("-" * 500 + "1"),
    "not chain": HEAD.format("not " * 400 + "1"),
    "nested lambdas": HEAD.format("lambda: " * 300 + "1"),
    "nested conditionals": HEAD.format("1 if a else " * 300 + "1"),
    "nested dicts": HEAD.format("{1: " * 150 + "1" + "}" * 150),
    "15 nested ifs": nested_blocks(15),
    "25 nested loops": nested_blocks(25, "for a in b:"),
    "90 nested whiles": nested_blocks(90, "while a:"),
    "120 indentation levels": nested_blocks(120),
    "nested functions": nested_blocks(30, "def f(self):"),
}


@pytest.mark.parametrize("name", list(DEEP_SOURCES))
def test_cant_make_validation_raise_with_deep_nesting(name: str) -> None:
    found = codes(DEEP_SOURCES[name])
    assert found & DEPTH_CODES, found


def test_a_too_deep_expression_is_reported_at_its_line() -> None:
    source = ON_DATA + "\nx = 1\ny = " + "+".join(["a"] * 200) + "\n"
    (diagnostic,) = validate_source(source)
    assert (diagnostic.code, diagnostic.line) == ("SB013", 6)
    assert str(LIMITS.max_nesting_depth) in diagnostic.message


def test_nested_except_handlers_past_pythons_block_limit_are_a_diagnostic() -> None:
    source = ON_DATA
    for level in range(12):
        pad = " " * (4 * level)
        source += f"{pad}try:\n{pad}    pass\n{pad}except Exception as e:\n"
    source += " " * 48 + "pass\n"
    assert "SB014" in codes(source)


# -- too large --------------------------------------------------------------------------------


def dense_lines(lines: int, terms: int) -> str:
    return "".join(f"x{i} = " + "+".join(["a"] * terms) + "\n" for i in range(lines))


@pytest.mark.parametrize(
    ("source", "code"),
    [
        (ON_DATA + "#" * LIMITS.max_bytes, "SB010"),
        (ON_DATA + "# é\n" * (LIMITS.max_bytes // 4), "SB010"),
        (ON_DATA + "\n" * LIMITS.max_lines, "SB011"),
        (ON_DATA + "\r" * LIMITS.max_lines, "SB011"),
        (ON_DATA + "x = " + "1" * LIMITS.max_line_chars + "\n", "SB012"),
        (ON_DATA + "# " + "é" * LIMITS.max_line_chars + "\n", "SB012"),
        (ON_DATA + ("x = [" + ",".join(["1"] * 900) + "]\n") * 40, "SB017"),
        (ON_DATA + dense_lines(120, 90), "SB017"),
        (ON_DATA + "".join(f"class C{i}:\n    pass\n" for i in range(LIMITS.max_classes)), "SB015"),
        (ON_DATA + "".join(f"f{i} = lambda: {i}\n" for i in range(LIMITS.max_functions)), "SB016"),
    ],
    ids=[
        "bytes",
        "bytes of non-ASCII text",
        "lines",
        "carriage-return lines",
        "line length",
        "line length in characters",
        "tokens",
        "syntax-tree nodes",
        "classes",
        "functions",
    ],
)
def test_cant_pass_a_source_too_large(source: str, code: str) -> None:
    assert code in codes(source)


def test_a_source_at_every_size_limit_is_accepted() -> None:
    padding = "#" * (LIMITS.max_line_chars - 1) + "\n"
    room = LIMITS.max_bytes - len(ON_DATA) - 1
    body = padding * (room // len(padding))
    source = ON_DATA + body + "#" * (room % len(padding) - 1) + "\n"
    assert len(source.encode()) == LIMITS.max_bytes - 1
    assert validate_source(source) == []


def test_a_chain_of_more_classes_than_allowed_is_refused_by_count() -> None:
    chain = "".join(f"class C{i}(C{i - 1}):\n    pass\n" for i in range(1, 1_000))
    source = "class C0(Strategy):\n    def on_data(self, bar):\n        pass\n" + chain
    assert codes(source) == {"SB015"}


def test_diagnostics_are_capped_and_the_rest_counted() -> None:
    source = ON_DATA + "x = bar.__a__\n" * 300
    found = validate_source(source)
    assert len(found) == LIMITS.max_diagnostics + 1
    assert found[-1].code == "SB019" and "200 more" in found[-1].message


# -- text that is not source ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "code", "line"),
    [
        ("\x00" + ON_DATA, "SB002", 1),
        (ON_DATA.replace("pass", "x = 1\x00"), "SB002", 3),
        (ON_DATA.replace("pass", "x = '\x00'"), "SB002", 3),
        (ON_DATA.replace("pass", "x = '\ud800'"), "SB002", 3),
        (ON_DATA.replace("pass", "x\udfff = 1"), "SB002", 3),
        ("\ufeff" + ON_DATA, "SB002", 1),
        (ON_DATA.replace("pass", "x = 1\u2028"), "SB001", 3),
        (ON_DATA.replace("        pass", "\tpass"), "SB001", 3),
        (ON_DATA + "if bar:\n\tif bar:\n        pass\n", "SB001", 6),
        (ON_DATA + "x = 1" + "0" * 5_000 + "\n", "SB001", 4),
        (ON_DATA + "x = b'\u00e9'\n", "SB001", 4),
        (ON_DATA + "x = 1 \\", "SB001", 4),
    ],
    ids=[
        "NUL first",
        "NUL in code",
        "NUL in a string",
        "lone surrogate in a string",
        "lone surrogate in a name",
        "byte order mark",
        "line separator",
        "tab after spaces",
        "tabs and spaces mixed",
        "5,000-digit integer",
        "non-ASCII bytes literal",
        "backslash at the end",
    ],
)
def test_cant_pass_text_python_cannot_read(source: str, code: str, line: int) -> None:
    found = [d for d in validate_source(source) if d.code == code]
    assert found and found[0].line == line


@pytest.mark.parametrize(
    "source",
    [
        "\f" + ON_DATA + "\f\nx = 1\n",
        ON_DATA.replace("\n", "\r\n"),
        ON_DATA.replace("\n", "\r"),
        "# -*- coding: latin-1 -*-\n" + ON_DATA,
        ON_DATA.replace("pass", "x = 'caf\u00e9 \U0001f600'"),
    ],
    ids=["form feeds", "CRLF", "CR", "coding cookie", "non-ASCII strings"],
)
def test_text_python_reads_is_accepted(source: str) -> None:
    assert validate_source(source) == []


def test_columns_count_characters_not_utf8_bytes() -> None:
    (diagnostic,) = validate_source(ON_DATA.replace("pass", "x = 'éé'; y = bar.__class__"))
    assert diagnostic.col == len("        x = 'éé'; y = ") + 1


# -- what only the compiler refuses -----------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "break\n" + ON_DATA,
        "return 1\n" + ON_DATA,
        ON_DATA.replace("pass", "continue"),
        ON_DATA + "def f(a, a):\n    pass\n",
        "class S(Strategy):\n    y = [(z := 1) for i in [1]]\n    def on_data(self, bar):\n"
        "        pass\n",
        ON_DATA + "def f():\n    x = 1\n    nonlocal x\n",
    ],
    ids=[
        "break outside",
        "return outside",
        "continue outside",
        "duplicate arg",
        "walrus in class",
        "nonlocal",
    ],
)
def test_cant_pass_what_only_the_compiler_refuses(source: str) -> None:
    assert codes(source) & {"SB001", "SB401"}


def test_python_syntax_warnings_are_warnings_not_errors() -> None:
    (diagnostic,) = validate_source(ON_DATA.replace("pass", "x = '\\d'"))
    assert diagnostic.code == "SB090" and not diagnostic.is_error
    assert diagnostic.line == 3 and "escape" in diagnostic.message


# -- what passes validation compiles ----------------------------------------------------------

SHAPES: dict[str, Callable[[int], str]] = {
    "sum": lambda n: "+".join(["bar.close"] * n),
    "attributes": lambda n: "bar" + ".close" * n,
    "subscripts": lambda n: "bar" + "[0]" * n,
    "calls": lambda n: "abs(" * n + "1" + ")" * n,
    "lists": lambda n: "[" * n + "]" * n,
    "lambdas": lambda n: "lambda: " * n + "1",
    "negations": lambda n: "-" * n + "1",
    "conditionals": lambda n: "1 if bar else " * n + "1",
    "comprehensions": lambda n: "[" * n + "a for a in b" + "]" * n,
    "and-or": lambda n: "(bar and " * n + "bar" + ")" * n,
}


def largest_accepted(shape: Callable[[int], str]) -> int:
    """The deepest `shape(n)` validation accepts (binary search on n)."""
    low, high = 1, 2 * LIMITS.max_nesting_depth
    while low < high:
        middle = (low + high + 1) // 2
        if any(d.is_error for d in validate_source(HEAD.format(shape(middle)))):
            high = middle - 1
        else:
            low = middle
    return low


def deeper(frames: int, call: Callable[[], object]) -> object:
    """`call()` from `frames` stack frames further down (a worker's stack is deeper)."""
    return call() if frames == 0 else deeper(frames - 1, call)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_whatever_passes_validation_compiles_in_restricted_python(shape: str) -> None:
    depth = largest_accepted(SHAPES[shape])
    source = HEAD.format(SHAPES[shape](depth))
    assert validate_source(source) == []
    assert "SB013" in codes(HEAD.format(SHAPES[shape](depth + 1)))
    headroom = sys.getrecursionlimit() // 3
    compiled = deeper(headroom, lambda: compile_strategy(source))
    assert compiled is not None


@pytest.mark.parametrize("head", ["for a in bar:", "while bar:", "if bar:", "def f(self):"])
def test_statements_at_the_block_limit_compile(head: str) -> None:
    source = nested_blocks(LIMITS.max_block_depth - 2, head)
    assert validate_source(source) == []
    assert "SB014" in codes(nested_blocks(LIMITS.max_block_depth - 1, head))
    assert compile_strategy(source).name == "S"


def test_a_bug_in_a_rule_refuses_the_source_instead_of_raising(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> list[object]:
        raise KeyError("a rule's bug")

    monkeypatch.setattr(validate, "check_classes", broken)
    (diagnostic,) = validate_source(ON_DATA)
    assert diagnostic.code == "SB000" and diagnostic.is_error
    assert "validation failed" in caplog.text


@pytest.mark.parametrize("text", ["\x1b[2J", "\x07", "\x1b]0;title\x07", "\x9b31m"])
def test_cant_reach_the_terminal_through_a_syntax_error_hint(text: str) -> None:
    (diagnostic,) = validate_source(ON_DATA + f'x = "{text}" +\n')
    assert diagnostic.code == "SB001"
    assert all(ch.isprintable() for ch in diagnostic.hint + diagnostic.message)


@pytest.mark.parametrize("filler", ["#", "\n", "(", "\x00", "\ud800"])
def test_a_huge_string_is_refused_by_its_size_alone(filler: str) -> None:
    (diagnostic,) = validate_source(ON_DATA + filler * 20_000_000)
    assert diagnostic.code == "SB010" and "characters" in diagnostic.message


def test_validations_in_threads_each_keep_their_warnings_and_leave_the_filters() -> None:
    source = ON_DATA.replace("pass", "x = '\\d'")
    before = (list(warnings.filters), warnings.showwarning)
    results: list[list[str]] = []

    def validate_repeatedly() -> None:
        results.extend([d.code for d in validate_source(source)] for _ in range(20))

    threads = [threading.Thread(target=validate_repeatedly) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [["SB090"]] * 80
    assert (list(warnings.filters), warnings.showwarning) == before


# -- diagnostics never carry the source back ---------------------------------------------------

ECHOING_SOURCES: dict[str, str] = {
    "a huge base expression": ON_DATA
    + "class Q(("
    + ",\n".join("a" * 1_900 for _ in range(120))
    + ")):\n    pass\n",
    "long module names": ON_DATA + "".join("import " + "m" * 1_990 + "\n" for _ in range(120)),
    "long imported names": ON_DATA
    + "".join("from math import " + "n" * 1_980 + "\n" for _ in range(120)),
    "several long strategy names": "".join(
        f"class {'C' * 1_900}{i}(Strategy):\n    def on_data(self, bar):\n        pass\n"
        for i in range(45)
    ),
    "a long augmented target": ON_DATA + "f(" + "a," * 900 + ").x += 1\n",
    "a long syntax error line": ON_DATA + "x = (" + "a " * 990 + "\n",
}


@pytest.mark.parametrize("name", list(ECHOING_SOURCES))
def test_cant_make_a_diagnostic_echo_the_source(name: str) -> None:
    from sandbox.policy import MAX_DIAGNOSTIC_CHARS

    source = ECHOING_SOURCES[name]
    found = validate_source(source)
    assert found
    for diagnostic in found:
        assert len(diagnostic.message) <= MAX_DIAGNOSTIC_CHARS
        assert len(diagnostic.hint) <= MAX_DIAGNOSTIC_CHARS
        assert len(diagnostic.suggestion) <= MAX_DIAGNOSTIC_CHARS
    shown = sum(len(d.message) + len(d.hint) + len(d.suggestion) for d in found)
    assert shown <= (LIMITS.max_diagnostics + 1) * 3 * MAX_DIAGNOSTIC_CHARS


def test_a_short_suggestion_survives_the_bound() -> None:
    (diagnostic,) = validate_source(ON_DATA + "import mth\n")
    assert diagnostic.suggestion == "math"
