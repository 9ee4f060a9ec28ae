"""Properties: the validator and the frame reader never crash, whatever bytes they are given."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import ProtocolError, validate_source
from sandbox.protocol import HEADER, WORKER_MESSAGES, FrameReader, encode


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_validation_returns_diagnostics_for_any_text(source: str) -> None:
    for diagnostic in validate_source(source):
        assert diagnostic.line >= 1
        assert diagnostic.col >= 1
        assert diagnostic.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_give_frames_or_a_protocol_error(data: bytes) -> None:
    reader = FrameReader(max_json_bytes=1 << 16, max_blob_bytes=1 << 16, allowed=WORKER_MESSAGES)
    try:
        frames = reader.feed(data)
    except ProtocolError:
        return
    assert all(frame.type in WORKER_MESSAGES for frame in frames)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50),
    st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=50),
    st.integers(min_value=1, max_value=40),
)
def test_frames_survive_any_split_into_reads(
    floats: list[float], ints: list[int], chunk: int
) -> None:
    data = encode(
        {"type": "progress"},
        {"f": np.array(floats, dtype=np.float64), "i": np.array(ints, dtype=np.int64)},
    )
    reader = FrameReader(max_json_bytes=1 << 16, max_blob_bytes=1 << 16, allowed=WORKER_MESSAGES)
    frames = []
    for start in range(0, len(data), chunk):
        frames.extend(reader.feed(data[start : start + chunk]))
    (frame,) = frames
    np.testing.assert_array_equal(frame.arrays["f"], np.array(floats, dtype=np.float64))
    assert frame.arrays["i"].tolist() == ints
    assert reader.pending == 0
    assert len(data) >= HEADER.size
