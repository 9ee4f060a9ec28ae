"""The parent<->worker wire format: length-prefixed JSON frames with raw little-endian arrays.

A frame is a 12-byte header (big-endian u32 JSON length, u64 blob length), the UTF-8 JSON
object, then the blob. The JSON names its message `type` and lists the arrays carried in the
blob as `{"name", "dtype": "f8"|"i8", "length"}` in blob order. Nothing is ever unpickled:
a hostile worker can only send numbers, strings and lists, all checked by the reader.

A reader for worker messages (`is_untrusted=True`) also makes the text safe as it decodes:
invalid UTF-8 becomes U+FFFD and every string goes through `sandbox.text.clean_text`, so no
string the worker sent reaches the parent's writers, logs or terminal unsanitised. Decoding
raises ProtocolError and nothing else, whatever the bytes.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from sandbox.errors import ProtocolError
from sandbox.text import clean_json

HEADER: Final = struct.Struct(">IQ")
ALIGN: Final = 8
DTYPES: Final = {"f8": np.dtype("<f8"), "i8": np.dtype("<i8")}
WORKER_MESSAGES: Final = frozenset(
    {"ready", "progress", "result", "error", "indicator", "checkpoint"}
)
"""`indicator` asks a sweep's parent for an indicator's values (sandbox.shared_indicators);
`checkpoint` carries a long run's state every so many bars (sandbox.checkpoint_wire)."""
PARENT_MESSAGES: Final = frozenset({"job", "indicator_values", "indicator_refused"})
"""The one `job`, then (sweep trials only) one answer per `indicator` request, in order."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded message: its JSON body and the arrays that came with it."""

    body: dict[str, Any]
    arrays: dict[str, npt.NDArray[Any]]

    @property
    def type(self) -> str:
        return str(self.body["type"])


Chunk = bytes | memoryview


def encode_parts(
    body: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]] | None = None
) -> list[Chunk]:
    """A frame for `body` (which must hold a `type`) and named int64/float64 arrays, as the
    pieces to write one after another: the arrays' own memory is not copied.

    The JSON is padded with spaces so the blob starts 8-byte aligned within the frame, which
    lets the reader use the arrays in place.
    """
    specs: list[dict[str, Any]] = []
    chunks: list[Chunk] = []
    for name, array in (arrays or {}).items():
        code = "i8" if np.issubdtype(array.dtype, np.integer) else "f8"
        data = np.ascontiguousarray(array, dtype=DTYPES[code])
        specs.append({"name": name, "dtype": code, "length": int(data.shape[0])})
        chunks.append(memoryview(data).cast("B"))
    payload = json.dumps({**body, "arrays": specs}, separators=(",", ":"), allow_nan=True).encode()
    payload += b" " * (-(HEADER.size + len(payload)) % ALIGN)
    blob_len = sum(len(chunk) for chunk in chunks)
    return [HEADER.pack(len(payload), blob_len), payload, *chunks]


def encode(body: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]] | None = None) -> bytes:
    """`encode_parts` joined into one bytes object (for small messages)."""
    return b"".join(encode_parts(body, arrays))


class FrameReader:
    """Incremental decoder with hard size limits; any violation raises ProtocolError."""

    def __init__(
        self,
        *,
        max_json_bytes: int,
        max_blob_bytes: int,
        allowed: frozenset[str],
        is_untrusted: bool = False,
    ):
        self._buffer = bytearray()
        self._max_json = max_json_bytes
        self._max_blob = max_blob_bytes
        self._allowed = allowed
        self._is_untrusted = is_untrusted

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes read from the pipe; returns every frame now complete."""
        self._buffer += data
        frames: list[Frame] = []
        while True:
            frame = self._next()
            if frame is None:
                return frames
            frames.append(frame)

    @property
    def pending(self) -> int:
        """Bytes buffered but not yet forming a whole frame."""
        return len(self._buffer)

    def _next(self) -> Frame | None:
        if len(self._buffer) < HEADER.size:
            return None
        json_len, blob_len = HEADER.unpack_from(self._buffer)
        if json_len > self._max_json:
            raise ProtocolError(f"message of {json_len} bytes exceeds {self._max_json}")
        if blob_len > self._max_blob:
            raise ProtocolError(f"array data of {blob_len} bytes exceeds {self._max_blob}")
        blob_start = HEADER.size + json_len
        end = blob_start + blob_len
        if len(self._buffer) < end:
            return None
        with memoryview(self._buffer) as view:
            payload = bytes(view[HEADER.size : blob_start])
            if end == len(self._buffer):  # the usual case: the arrays stay where they arrived
                blob, offset = self._buffer, blob_start
                self._buffer = bytearray()
            else:
                blob, offset = bytearray(view[blob_start:end]), 0
        if blob is not self._buffer:
            del self._buffer[:end]
        return decode(payload, blob, self._allowed, offset=offset, is_untrusted=self._is_untrusted)


def decode(
    payload: bytes,
    blob: bytes | bytearray,
    allowed: frozenset[str],
    *,
    offset: int = 0,
    is_untrusted: bool = False,
) -> Frame:
    """Parse and check one frame's JSON and its arrays (`blob` from `offset` on); with
    `is_untrusted`, invalid UTF-8 is replaced and every string cleaned (see the module doc)."""
    try:
        text = payload.decode("utf-8", "replace" if is_untrusted else "strict")
        body = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # JSONDecodeError too
        raise ProtocolError(f"message is not valid JSON: {error}") from None
    if is_untrusted:
        body = clean_json(body)
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise ProtocolError("message has no known type")
    if body["type"] not in allowed:
        raise ProtocolError("message has no known type")
    specs = body.pop("arrays", [])
    if not isinstance(specs, list):
        raise ProtocolError("message arrays must be a list")
    return Frame(body=body, arrays=_split_arrays(specs, blob, offset))


def _split_arrays(
    specs: list[Any], blob: bytes | bytearray, start: int
) -> dict[str, npt.NDArray[Any]]:
    """The arrays over `blob` without copying (each keeps `blob` alive; a bytearray's are
    writable, a bytes object's read-only)."""
    arrays: dict[str, npt.NDArray[Any]] = {}
    offset = start
    for spec in specs:
        if not isinstance(spec, dict):
            raise ProtocolError("array description must be an object")
        name, code, length = spec.get("name"), spec.get("dtype"), spec.get("length")
        if not isinstance(name, str) or not isinstance(code, str) or type(length) is not int:
            raise ProtocolError("array description is malformed")
        if code not in DTYPES:
            raise ProtocolError("array description is malformed")
        if length < 0 or name in arrays:
            raise ProtocolError(f"array '{name}' is declared twice or with a negative length")
        size = length * 8
        if offset + size > len(blob):
            raise ProtocolError(f"array '{name}' is longer than the data sent")
        arrays[name] = np.frombuffer(blob, dtype=DTYPES[code], count=length, offset=offset)
        offset += size
    if offset != len(blob):
        raise ProtocolError("array data has trailing bytes")
    return arrays
