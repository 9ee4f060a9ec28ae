"""Compact array storage: numpy arrays as zlib-compressed little-endian bytes."""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

COMPRESSION_LEVEL = 1


def pack_int64(values: npt.NDArray[Any]) -> bytes:
    """Little-endian int64 bytes, compressed (regular bar times shrink to almost nothing)."""
    data = np.ascontiguousarray(values, dtype="<i8").tobytes()
    return zlib.compress(data, COMPRESSION_LEVEL)


def pack_float64(values: npt.NDArray[Any]) -> bytes:
    """Little-endian float64 bytes, compressed."""
    data = np.ascontiguousarray(values, dtype="<f8").tobytes()
    return zlib.compress(data, COMPRESSION_LEVEL)


def unpack_int64(blob: bytes) -> npt.NDArray[np.int64]:
    """The inverse of `pack_int64`."""
    return np.frombuffer(zlib.decompress(blob), dtype="<i8").astype(np.int64)


def unpack_float64(blob: bytes) -> npt.NDArray[np.float64]:
    """The inverse of `pack_float64`."""
    return np.frombuffer(zlib.decompress(blob), dtype="<f8").astype(np.float64)
