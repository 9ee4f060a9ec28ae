"""Datasets: import, validate, store (Parquet), resample and generate sample market data."""

from app.data.datasets import import_files, import_rows, resample_dataset
from app.data.errors import (
    DataError,
    DataFileError,
    DatasetNotFoundError,
    FetchError,
    InvalidReferenceError,
    ValidationFailedError,
)
from app.data.importers import read_ohlcv
from app.data.problems import Problem, ValidationReport
from app.data.resample import parse_timeframe, resample_ohlcv
from app.data.samples import ensure_samples, generate_ohlcv
from app.data.store import DatasetMeta, DatasetRef, DatasetSpec, DatasetStore
from app.data.validation import validate_ohlcv

__all__ = [
    "DataError",
    "DataFileError",
    "DatasetMeta",
    "DatasetNotFoundError",
    "DatasetRef",
    "DatasetSpec",
    "DatasetStore",
    "FetchError",
    "InvalidReferenceError",
    "Problem",
    "ValidationFailedError",
    "ValidationReport",
    "ensure_samples",
    "generate_ohlcv",
    "import_files",
    "import_rows",
    "parse_timeframe",
    "read_ohlcv",
    "resample_dataset",
    "resample_ohlcv",
    "validate_ohlcv",
]
