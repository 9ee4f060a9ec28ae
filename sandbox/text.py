"""Text from the worker made safe to store, log, serve and print: the one sanitiser.

A hostile or broken worker can send any string: lone UTF-16 surrogates (which every UTF-8
writer refuses), terminal escapes (clear the screen, set the window title, forge links),
carriage returns and newlines (which forge whole lines in log.txt), bidi overrides (which
reorder what a reader sees) and text of any length. Every string of a worker message goes
through `clean_text` once, as the message is decoded, so nothing downstream ever holds one:

- valid Unicode: lone surrogates become U+FFFD, like invalid UTF-8 bytes do at decode;
- visible controls: every character Python does not call printable (`str.isprintable`: the
  C0 and C1 controls, DEL, format characters such as the bidi overrides and zero-width
  marks, line and paragraph separators, unassigned code points) is written as its Python
  escape (`\\n`, `\\x1b`, `\\u202e`), so one log call is one line and a terminal only ever
  receives text;
- bounded: a string longer than its cap is cut to it, and says it was cut.

Backslashes are kept as they are: an escape is text, never interpreted again downstream.
"""

from __future__ import annotations

import re
from typing import Any, Final

from app.engine.logbook import escape_char
from sandbox.errors import ProtocolError

MAX_TEXT_CHARS: Final = 10_000
"""Longest string a worker message may carry, in characters (tracebacks included)."""
MAX_NAME_CHARS: Final = 200
"""Longest class or parameter name, in characters."""
MAX_JSON_DEPTH: Final = 16
"""Deepest nesting of lists and objects in a worker message (the real worker's is 4)."""
REPLACEMENT: Final = "\ufffd"
CUT_NOTE: Final = "... (text cut)"

_NOT_PLAIN_ASCII: Final = re.compile(r"[^\x20-\x7e]+")


def clean_text(value: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    """`value` as valid, printable, single-line text of at most `max_chars` characters
    (escapes included); a string cut to fit ends with CUT_NOTE."""
    if len(value) <= max_chars and value.isprintable():
        return value  # the usual case, checked at C speed
    cleaned = _NOT_PLAIN_ASCII.sub(_escape_run, value[:max_chars])
    if len(value) <= max_chars and len(cleaned) <= max_chars:
        return cleaned
    if max_chars <= len(CUT_NOTE):
        return cleaned[:max_chars]
    return cleaned[: max_chars - len(CUT_NOTE)] + CUT_NOTE


def _escape_run(match: re.Match[str]) -> str:
    run = match.group()
    return run if run.isprintable() else "".join(map(escape_char, run))


def is_clean_texts(values: list[Any], max_chars: int) -> bool:
    """True when `values` are all strings that `clean_text` would keep as they are, checked
    at C speed (no Python call per item)."""
    try:
        return all(map(str.isprintable, values)) and max(map(len, values), default=0) <= max_chars
    except TypeError:  # an item that is not a string
        return False


def clean_json(value: Any, depth: int = 0) -> Any:
    """A decoded JSON value with every string in it (object keys too) passed through
    `clean_text`. Raises ProtocolError past MAX_JSON_DEPTH levels of nesting."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        if is_clean_texts(value, MAX_TEXT_CHARS):
            return value  # a text column of a result: hundreds of thousands of strings
        if depth >= MAX_JSON_DEPTH:
            raise ProtocolError(f"message nests deeper than {MAX_JSON_DEPTH} levels")
        return [clean_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if depth >= MAX_JSON_DEPTH:
            raise ProtocolError(f"message nests deeper than {MAX_JSON_DEPTH} levels")
        return {clean_text(key): clean_json(item, depth + 1) for key, item in value.items()}
    return value


__all__ = [
    "CUT_NOTE",
    "MAX_NAME_CHARS",
    "MAX_TEXT_CHARS",
    "clean_json",
    "clean_text",
    "is_clean_texts",
]
