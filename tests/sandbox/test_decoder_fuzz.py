"""Random and mutated bytes to the worker protocol decoder: it raises ProtocolError or returns
frames whose every string is clean; never another exception, never a hang (each example has
a deadline), whatever the bytes and however they are split across reads."""

from __future__ import annotations

import itertools
import json
import math
from datetime import timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import LogLevel, LogLine, Progress
from sandbox import ProtocolError
from sandbox.codec import progress_body, progress_from_frame
from sandbox.protocol import HEADER, WORKER_MESSAGES, Frame, FrameReader, encode
from tests.hostile_worker import HOSTILE_CHARS, NASTY_TEXTS, nasty_error_body, ready

FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def worker_reader() -> FrameReader:
    return FrameReader(
        max_json_bytes=1 << 20, max_blob_bytes=1 << 20, allowed=WORKER_MESSAGES, is_untrusted=True
    )


def genuine_frames() -> list[bytes]:
    logs = tuple(LogLine(1, 0, LogLevel.INFO, text) for text in NASTY_TEXTS)
    return [
        ready(),
        encode(*progress_body(Progress(3, 10, 5, 1.5, logs))),
        encode(nasty_error_body()),
    ]


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [text for item in value for text in all_strings(item)]
    if isinstance(value, dict):
        return [text for k, v in value.items() for text in (k, *all_strings(v))]
    return []


def feed_in_pieces(data: bytes, cuts: list[int]) -> list[Frame]:
    """Feed `data` split at `cuts`; only ProtocolError may come out."""
    reader = worker_reader()
    frames: list[Frame] = []
    points = sorted({min(cut, len(data)) for cut in cuts} | {0, len(data)})
    try:
        for start, end in itertools.pairwise(points):
            frames.extend(reader.feed(data[start:end]))
    except ProtocolError:
        pass
    for frame in frames:
        assert all(text.isprintable() for text in all_strings(frame.body))
        assert all(array.dtype in (np.int64, np.float64) for array in frame.arrays.values())
    return frames


@FUZZ
@given(st.binary(max_size=4_096), st.lists(st.integers(0, 4_096), max_size=8))
def test_cant_crash_the_decoder_with_random_bytes(data: bytes, cuts: list[int]) -> None:
    feed_in_pieces(data, cuts)


@FUZZ
@given(st.binary(max_size=2_000), st.lists(st.integers(0, 2_000), max_size=4))
def test_cant_crash_the_decoder_with_random_bytes_after_a_valid_header(
    payload: bytes, cuts: list[int]
) -> None:
    feed_in_pieces(HEADER.pack(len(payload), 0) + payload, cuts)


@FUZZ
@given(
    st.sampled_from(range(3)),
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6),
    st.lists(st.integers(0, 1 << 16), max_size=4),
)
def test_cant_crash_the_decoder_with_mutated_genuine_frames(
    which: int, mutations: list[tuple[int, int]], cuts: list[int]
) -> None:
    data = bytearray(genuine_frames()[which])
    for position, value in mutations:
        data[position % len(data)] = value
    for frame in feed_in_pieces(bytes(data), cuts):
        if frame.type == "progress":
            try:
                progress = progress_from_frame(frame.body, frame.arrays)
            except ProtocolError:
                continue
            assert all(line.message.isprintable() for line in progress.logs)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(HOSTILE_CHARS, max_size=40),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(HOSTILE_CHARS, max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


@FUZZ
@given(
    st.dictionaries(st.sampled_from(["progress", "logs", "trades", "orders", "x"]), JSON_VALUES),
    st.sampled_from(sorted(WORKER_MESSAGES)),
)
def test_cant_crash_the_progress_decoder_with_any_json(body: dict[str, Any], kind: str) -> None:
    payload = json.dumps({**body, "type": kind}).encode()  # ASCII: surrogates as \\ud800
    frames = feed_in_pieces(HEADER.pack(len(payload), 0) + payload, [])
    for frame in frames:
        try:
            progress = progress_from_frame(frame.body, frame.arrays)
        except ProtocolError:
            continue
        assert math.isfinite(progress.bars_done) and all(
            line.message.isprintable() for line in progress.logs
        )
