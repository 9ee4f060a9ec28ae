"""Running a strategy file on a data file: the service behind `strategylab run` (and, later, the
API's runs). Loads and checks inputs, runs the engine, and describes the run's provenance."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from app.data import read_ohlcv
from app.data.store import content_hash
from app.engine import MarketData, ProgressCallback, RunConfig, RunResult
from app.settings import REPO_ROOT
from sandbox import (
    OperatorMaximums,
    RunLimits,
    Severity,
    run_sandboxed,
    start_worker,
    validate_source,
)


class StrategyLoadError(Exception):
    """The strategy file cannot be used: unreadable, or refused by the sandbox's validation."""


@dataclass(frozen=True, slots=True)
class LoadedStrategy:
    """A strategy file's source, checked by the sandbox's validation (never executed here)."""

    source: str
    path: Path

    @property
    def code_hash(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class LoadedData:
    market: MarketData
    path: Path
    file_hash: str
    content_hash: str


@dataclass(frozen=True, slots=True)
class RunRequest:
    strategy_path: Path
    data_path: Path
    config: RunConfig
    raw_params: Mapping[str, str] = field(default_factory=dict)
    limits: RunLimits = field(default_factory=RunLimits)


def read_strategy_source(path: Path) -> str:
    if not path.is_file():
        raise StrategyLoadError(f"strategy file {path} does not exist")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StrategyLoadError(f"strategy file {path} is not UTF-8 text") from None
    except OSError as error:
        raise StrategyLoadError(f"strategy file {path} cannot be read: {error.strerror}") from None


def load_strategy(path: Path) -> LoadedStrategy:
    """Read the file and validate it with the sandbox; every error is one line per problem."""
    source = read_strategy_source(path)
    problems = [d for d in validate_source(source, path.name) if d.severity is Severity.ERROR]
    if problems:
        raise StrategyLoadError("\n".join(d.format(str(path)) for d in problems))
    return LoadedStrategy(source, path)


def load_market(path: Path, *, symbol: str) -> LoadedData:
    frame = read_ohlcv(path)
    market = MarketData.from_frame(frame, symbol=symbol)
    return LoadedData(
        market=market, path=path, file_hash=_file_hash(path), content_hash=content_hash(frame)
    )


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def with_params(config: RunConfig, raw: Mapping[str, str]) -> RunConfig:
    """The config carrying `raw` overrides; the engine types each like its default and refuses
    unknown names."""
    return replace(config, params=tuple(sorted(raw.items())))


def parse_time(text: str | None, field_name: str) -> int | None:
    """An ISO date/time (UTC if naive) as epoch ns; None passes through."""
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise StrategyLoadError(
            f"--{field_name} {text!r} is not a date such as 2023-06-01 or 2023-06-01T12:00"
        ) from None
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def provenance(strategy: LoadedStrategy, data: LoadedData, result: RunResult) -> dict[str, Any]:
    """What this run depended on, enough to reproduce it."""
    return {
        "strategy": {
            "class": result.strategy,
            "file": strategy.path.name,
            "code_sha256": strategy.code_hash,
        },
        "params": result.params,
        "data": {
            "file": data.path.name,
            "file_sha256": data.file_hash,
            "content_hash": data.content_hash,
            "symbol": data.market.symbol,
            "bars": len(data.market),
        },
        "config": result.config.to_dict(),
        "config_sha256": result.config.fingerprint(),
        "price_source": result.price_source,
        "strategylab_version": package_version(),
        "git_commit": git_commit(),
    }


def package_version() -> str:
    try:
        return version("strategylab")
    except PackageNotFoundError:
        return "unknown"


def git_commit() -> str | None:
    """The commit of the Strategy Lab checkout this code runs from, when it is one."""
    try:
        done = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None


def execute(
    request: RunRequest,
    *,
    maximums: OperatorMaximums,
    on_progress: ProgressCallback | None = None,
) -> tuple[RunResult, dict[str, Any]]:
    """Load, run in the sandbox (a separate, locked-down worker process), and describe one
    backtest. Raises StrategyLoadError, the data layer's errors, the sandbox's and the engine's.

    The worker is started first, so its start-up (~1.2 s of imports) overlaps the loading of
    the strategy and the data; it is killed on every path out of here.
    """
    with start_worker() as worker:
        strategy = load_strategy(request.strategy_path)
        data = load_market(request.data_path, symbol=request.config.symbol)
        config = with_params(request.config, request.raw_params)
        result = run_sandboxed(
            strategy.source,
            data.market,
            config,
            request.limits,
            on_progress=on_progress,
            filename=request.strategy_path.name,
            maximums=maximums,
            worker=worker,
        )
    return result, provenance(strategy, data, result)
