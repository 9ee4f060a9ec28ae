"""Reading a finished run's folder back (metrics.json, equity.csv, trades.csv, provenance.json)
into typed records, with one clear sentence when a file is missing or not what a run writes.

The folder is the one `app.runs.folder` writes: the column names and their order come from
there (`EQUITY_COLUMNS`, `TRADE_COLUMNS`), so a reader can never drift from the writer. Times
are read back as epoch nanoseconds (UTC), numbers as float64, exactly as written (the writer
prints each float as its shortest round-tripping text).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.engine.feed import FloatArray, IntArray
from app.research.errors import ResearchInputError
from app.runs.folder import EQUITY_COLUMNS, TRADE_COLUMNS

METRICS_FILE = "metrics.json"
EQUITY_FILE = "equity.csv"
TRADES_FILE = "trades.csv"
PROVENANCE_FILE = "provenance.json"

_HINT = "pass a folder a run wrote (strategylab run ... --out DIR)"


class RunFolderError(ResearchInputError):
    """A run folder that cannot be read: a missing file, a file that is not what a run writes.

    `field` is "run_dir"; `message` is one sentence naming the file, what is wrong and what to
    do."""

    def __init__(self, message: str) -> None:
        super().__init__("run_dir", message)


@dataclass(frozen=True, slots=True)
class RunMetrics:
    """metrics.json: `figures` by name (times as ISO text, undefined figures None) and the
    `conventions` they were computed with."""

    figures: dict[str, Any]
    conventions: dict[str, Any]

    @property
    def initial_equity(self) -> float:
        """Starting cash of the run, quote units."""
        return float(self.figures["initial_equity"])

    @property
    def annualisation_days(self) -> int:
        """D of the Sharpe convention (365 for 24/7 markets, 252 for markets that close)."""
        return int(self.conventions["annualisation_days"])

    @property
    def risk_free_rate(self) -> float:
        """Annual risk-free rate the run's Sharpe subtracted (as rate / D per day)."""
        return float(self.conventions["risk_free_rate"])


@dataclass(frozen=True, slots=True)
class EquitySeries:
    """equity.csv: one mark per bar close. `time` is the bar's open in epoch ns (UTC), the
    money columns are quote units, `position` is base units (signed)."""

    time: IntArray
    cash: FloatArray
    margin: FloatArray
    unrealized_pnl: FloatArray
    equity: FloatArray
    position: FloatArray

    def __len__(self) -> int:
        return len(self.time)


@dataclass(frozen=True, slots=True)
class TradeTable:
    """trades.csv, one row per closed slice of a position, in the order the run closed them.
    Times in epoch ns (UTC); `pnl` and `fees` in quote units (`pnl` net of fees, funding not
    included: see `app.engine.types.Trade`)."""

    entry_time: IntArray
    exit_time: IntArray
    side: tuple[str, ...]
    size: FloatArray
    entry_price: FloatArray
    exit_price: FloatArray
    pnl: FloatArray
    fees: FloatArray
    exit_reason: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.entry_time)


@dataclass(frozen=True, slots=True)
class RunFolder:
    """Everything a finished run wrote that research reads, loaded from `path`."""

    path: Path
    metrics: RunMetrics
    equity: EquitySeries
    trades: TradeTable
    provenance: dict[str, Any]


def _read_text(path: Path) -> str:
    if not path.parent.is_dir():
        raise RunFolderError(f"{path.parent} is not a folder; {_HINT}")
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing; {_HINT}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise RunFolderError(f"{path} cannot be read ({reason}); {_HINT}") from None


def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise RunFolderError(
            f"{path} is not valid JSON (line {error.lineno}: {error.msg}); {_HINT}"
        ) from None
    if not isinstance(document, dict):
        raise RunFolderError(f"{path} holds a {type(document).__name__}, not an object; {_HINT}")
    return document


def load_metrics(path: Path) -> RunMetrics:
    """metrics.json of a run folder (`path` is the file)."""
    document = _read_json_object(path)
    figures, conventions = document.get("metrics"), document.get("conventions")
    if not isinstance(figures, dict) or not isinstance(conventions, dict):
        raise RunFolderError(f"{path} has no 'metrics' and 'conventions' objects; {_HINT}")
    metrics = RunMetrics(figures=figures, conventions=conventions)
    try:
        checks = (metrics.initial_equity, metrics.annualisation_days, metrics.risk_free_rate)
    except (KeyError, TypeError, ValueError):
        raise RunFolderError(
            f"{path} lacks initial_equity, annualisation_days or risk_free_rate; {_HINT}"
        ) from None
    if not all(math.isfinite(value) for value in checks) or checks[0] <= 0 or checks[1] <= 0:
        raise RunFolderError(
            f"{path} has a non-positive or non-finite initial_equity or annualisation_days; {_HINT}"
        )
    return metrics


def load_provenance(path: Path) -> dict[str, Any]:
    """provenance.json of a run folder (`path` is the file), as the plain object it holds."""
    return _read_json_object(path)


def _read_table(
    path: Path, columns: tuple[str, ...], text_columns: tuple[str, ...]
) -> pd.DataFrame:
    _read_text(path)  # the same sentences for a missing or unreadable file
    dtypes = {name: str for name in columns if name.endswith("_time") or name == "time"}
    dtypes.update(dict.fromkeys(text_columns, str))
    try:
        frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[])
    except (ValueError, pd.errors.ParserError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else "unreadable"
        raise RunFolderError(f"{path} is not a CSV table a run writes ({first}); {_HINT}") from None
    if tuple(frame.columns)[: len(columns)] != columns:  # later columns: not read here
        raise RunFolderError(
            f"{path} has columns {', '.join(map(str, frame.columns)) or 'none'}, "
            f"expected {', '.join(columns)}; {_HINT}"
        )
    return frame


def _times(path: Path, frame: pd.DataFrame, name: str) -> IntArray:
    try:
        # ISO8601: pandas' fast parser, ~10x a strptime format on 500,000 rows
        stamps = pd.to_datetime(frame[name], utc=True, format="ISO8601")
    except (ValueError, TypeError):
        raise RunFolderError(
            f"{path}: column {name} holds a value that is not a time like "
            f"2024-01-01T00:00:00Z; {_HINT}"
        ) from None
    return np.asarray(stamps.dt.as_unit("ns").astype("int64"), dtype=np.int64)


def _numbers(path: Path, frame: pd.DataFrame, name: str) -> FloatArray:
    try:
        values = np.asarray(pd.to_numeric(frame[name]), dtype=np.float64)
    except (ValueError, TypeError):
        raise RunFolderError(
            f"{path}: column {name} holds a value that is not a number; {_HINT}"
        ) from None
    if not np.all(np.isfinite(values)):
        raise RunFolderError(f"{path}: column {name} holds a non-finite number; {_HINT}")
    return values


def load_equity(path: Path) -> EquitySeries:
    """equity.csv of a run folder (`path` is the file); times must increase."""
    frame = _read_table(path, EQUITY_COLUMNS, ())
    time = _times(path, frame, "time")
    if len(time) > 1 and not np.all(np.diff(time) > 0):
        raise RunFolderError(f"{path}: times do not increase row by row; {_HINT}")
    numbers = {name: _numbers(path, frame, name) for name in EQUITY_COLUMNS[1:]}
    return EquitySeries(time=time, **numbers)


def load_trades(path: Path) -> TradeTable:
    """trades.csv of a run folder (`path` is the file), in the file's (closing) order."""
    frame = _read_table(path, TRADE_COLUMNS, ("side", "exit_reason"))
    return TradeTable(
        entry_time=_times(path, frame, "entry_time"),
        exit_time=_times(path, frame, "exit_time"),
        side=tuple(frame["side"].tolist()),
        size=_numbers(path, frame, "size"),
        entry_price=_numbers(path, frame, "entry_price"),
        exit_price=_numbers(path, frame, "exit_price"),
        pnl=_numbers(path, frame, "pnl"),
        fees=_numbers(path, frame, "fees"),
        exit_reason=tuple(frame["exit_reason"].tolist()),
    )


def load_run_folder(run_dir: Path) -> RunFolder:
    """The four files of a run folder research reads; RunFolderError names the first problem."""
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a folder; {_HINT}")
    return RunFolder(
        path=run_dir,
        metrics=load_metrics(run_dir / METRICS_FILE),
        equity=load_equity(run_dir / EQUITY_FILE),
        trades=load_trades(run_dir / TRADES_FILE),
        provenance=load_provenance(run_dir / PROVENANCE_FILE),
    )
