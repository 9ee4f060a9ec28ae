"""Running a strategy file on a data file: the service behind `strategylab run` (and, later, the
API's runs). Loads and checks inputs, runs the engine, and describes the run's provenance."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from app.data import read_ohlcv
from app.engine import (
    MarketData,
    ProgressCallback,
    RunConfig,
    RunResult,
    Strategy,
    crossover,
    crossunder,
    run_backtest,
)
from app.engine.strategy import coerce_params
from app.settings import REPO_ROOT


class StrategyLoadError(Exception):
    """The strategy file cannot be used: unreadable, a syntax error, or no Strategy subclass."""


@dataclass(frozen=True, slots=True)
class LoadedStrategy:
    strategy_class: type[Strategy]
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
    """Compile the file in-process and find its Strategy subclass.

    TODO(issue 4): this trusts the code; the sandbox replaces it for every run.
    """
    source = read_strategy_source(path)
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as error:
        raise StrategyLoadError(
            f"{path}:{error.lineno}:{error.offset}: syntax error: {error.msg}"
        ) from None
    namespace: dict[str, Any] = {
        "Strategy": Strategy,
        "crossover": crossover,
        "crossunder": crossunder,
        "__name__": "strategy",
    }
    try:
        exec(code, namespace)
    except Exception as error:
        raise StrategyLoadError(
            f"{path}: the module raised {type(error).__name__}: {error}"
        ) from None
    found = [
        value
        for value in namespace.values()
        if isinstance(value, type) and issubclass(value, Strategy) and value is not Strategy
    ]
    if not found:
        raise StrategyLoadError(f"{path} defines no class derived from Strategy")
    if len(found) > 1:
        names = ", ".join(sorted(cls.__name__ for cls in found))
        raise StrategyLoadError(f"{path} defines several strategies ({names}); keep one per file")
    return LoadedStrategy(found[0], source, path)


def load_market(path: Path, *, symbol: str) -> LoadedData:
    frame = read_ohlcv(path)
    market = MarketData.from_frame(frame, symbol=symbol)
    return LoadedData(
        market=market, path=path, file_hash=_file_hash(path), content_hash=market_hash(market)
    )


def market_hash(market: MarketData) -> str:
    digest = hashlib.sha256()
    for name in ("time", "open", "high", "low", "close", "volume"):
        digest.update(np.ascontiguousarray(getattr(market, name)).tobytes())
    return digest.hexdigest()


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def with_params(
    config: RunConfig, strategy_class: type[Strategy], raw: Mapping[str, str]
) -> RunConfig:
    """The config with `raw` overrides typed like the class's defaults (unknown names refused)."""
    params = coerce_params(dict(getattr(strategy_class, "params", {})), raw)
    return RunConfig(**{**_config_fields(config), "params": tuple(sorted(params.items()))})


def _config_fields(config: RunConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in config.__dataclass_fields__}


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
            "content_sha256": data.content_hash,
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
    request: RunRequest, *, on_progress: ProgressCallback | None = None
) -> tuple[RunResult, dict[str, Any]]:
    """Load, run, and describe one backtest."""
    strategy = load_strategy(request.strategy_path)
    data = load_market(request.data_path, symbol=request.config.symbol)
    config = with_params(request.config, strategy.strategy_class, request.raw_params)
    result = run_backtest(strategy.strategy_class, data.market, config, on_progress=on_progress)
    return result, provenance(strategy, data, result)
