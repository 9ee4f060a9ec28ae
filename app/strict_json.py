"""Strict JSON text: the one encoder for every document the server sends or writes.

RFC 8259 has no Infinity or NaN, and a browser's `JSON.parse` refuses them, so a non-finite
number (an overflowed parameter, a metric divided by zero) is written as `null` instead of
as the non-standard token Python's `json` module emits by default.

A lone UTF-16 surrogate (U+D800-U+DFFF, which Python strings can hold: a file name read with
`surrogateescape`, a `\\ud800` escape in stored JSON) has no UTF-8 encoding, so text sent as
UTF-8 (`dumps_utf8`) has each one replaced by U+FFFD instead of failing to encode.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

LONE_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def finite(value: Any) -> Any:
    """`value` with every non-finite float inside dicts, lists and tuples replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps(value, **options)` that never writes Infinity or NaN (they become null).

    The common case costs one encoding: only a document that holds a non-finite number is
    walked and encoded again.
    """
    try:
        return json.dumps(value, allow_nan=False, **options)
    except ValueError:
        return json.dumps(finite(value), allow_nan=False, **options)


def without_surrogates(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (a Python str never holds a valid
    pair as two code points, so every surrogate in it is lone)."""
    return LONE_SURROGATE.sub(REPLACEMENT, text)


def dumps_text(value: Any, **options: Any) -> str:
    """`dumps(value, ensure_ascii=False, **options)` as text that always encodes to UTF-8."""
    text = dumps(value, ensure_ascii=False, **options)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return without_surrogates(text)
    return text


def dumps_utf8(value: Any, **options: Any) -> bytes:
    """`dumps_text(value, **options)` encoded as UTF-8: never raises for a surrogate."""
    text = dumps(value, ensure_ascii=False, **options)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return without_surrogates(text).encode("utf-8")
