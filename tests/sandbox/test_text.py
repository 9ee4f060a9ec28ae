"""The one sanitiser of worker text: valid, printable, one line, bounded, and idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox import ProtocolError
from sandbox.text import CUT_NOTE, MAX_JSON_DEPTH, REPLACEMENT, clean_json, clean_text
from tests.hostile_worker import HOSTILE_CHARS, NASTY_TEXTS


@pytest.mark.parametrize(
    "text",
    ["\ud800", "a\udfffb", "\udbff\udc00", "pair of lone halves \ud83d\ude00 (not joined)"],
)
def test_cant_send_a_lone_surrogate(text: str) -> None:
    cleaned = clean_text(text)
    cleaned.encode("utf-8")  # raises on a surrogate: it must not
    assert REPLACEMENT in cleaned and not any(0xD800 <= ord(c) <= 0xDFFF for c in cleaned)


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # clear the screen
        ("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07"),  # set the window title
        ("\x1b]8;;https://e.example\x1b\\x\x1b]8;;\x1b\\", "\\x1b]8;;https://e.example\\x1b\\x"),
        ("\x9b31m", "\\x9b31m"),  # C1 control sequence introducer
        ("\x07\x08\x00\x7f", "\\x07\\x08\\x00\\x7f"),  # bell, backspace, NUL, DEL
        ("\u202eevil\u202c", "\\u202eevil\\u202c"),  # bidi override
        ("\u2066x\u2069\u200b\ufeff", "\\u2066x\\u2069\\u200b\\ufeff"),  # isolates, zero widths
        ("\U000e0041", "\\U000e0041"),  # a tag character, outside the BMP
    ],
)
def test_cant_reach_a_terminal_with_control_characters(text: str, escaped: str) -> None:
    cleaned = clean_text(text)
    assert cleaned.startswith(escaped) and cleaned.isprintable()


@pytest.mark.parametrize(
    "newline",
    ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"],
)
def test_cant_forge_a_log_line(newline: str) -> None:
    text = f"ok{newline}2024-01-01T00:00:00Z bar=3 warning: liquidated"
    cleaned = clean_text(text)
    assert len(cleaned.splitlines()) == 1 and "liquidated" in cleaned


@pytest.mark.parametrize(
    ("text", "cap"),
    [("x" * 10_001, 10_000), ("\x1b" * 5_000, 10_000), ("\x1b" * 10, 20), ("é" * 50, 30)],
)
def test_cant_send_unbounded_text(text: str, cap: int) -> None:
    cleaned = clean_text(text, cap)
    assert len(cleaned) == cap and cleaned.endswith(CUT_NOTE)


@pytest.mark.parametrize(
    "text", ["", "plain", "中文 日志 ✓ 🚀", "C:\\path\\x1b is text", "tabs\tare not", "[bold]x[/]"]
)
def test_printable_text_passes_unchanged_except_for_controls(text: str) -> None:
    expected = text.replace("\t", "\\t")
    assert clean_text(text) == expected


def test_every_hostile_sample_comes_out_printable() -> None:
    assert all(clean_text(text).isprintable() for text in NASTY_TEXTS)


@given(st.text(HOSTILE_CHARS, max_size=300), st.integers(min_value=1, max_value=400))
def test_any_text_comes_out_valid_printable_bounded_and_stable(text: str, cap: int) -> None:
    cleaned = clean_text(text, cap)
    cleaned.encode("utf-8")
    assert cleaned.isprintable() and len(cleaned) <= cap
    assert clean_text(cleaned, cap) == cleaned


def test_cant_nest_a_message_past_its_depth() -> None:
    nested: object = "x"
    for _ in range(MAX_JSON_DEPTH + 1):
        nested = [nested]
    with pytest.raises(ProtocolError):
        clean_json({"type": "progress", "p": nested})
    assert clean_json({"\x1bkey": ["\ud800", {"k": "\n"}], "n": 1.5}) == {
        "\\x1bkey": [REPLACEMENT, {"k": "\\n"}],
        "n": 1.5,
    }
