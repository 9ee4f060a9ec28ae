"""Prepare a run: inspect the source, resolve the data, build the RunConfig from a request.

Every door (the CLI, the API, later sweeps and remote workers) describes what it wants as a
RunOrder and gets the same PreparedRun back for the same inputs, so the config hash, the data
hash and the code hash, and hence the results, do not depend on the door.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.data import read_ohlcv
from app.data.catalog import DatasetEntry
from app.data.store import content_hash
from app.data.tiers import TierCatalog, TierChoice, TierChoiceError
from app.engine import (
    OPTION_FIELDS,
    ConfigError,
    MarketData,
    ParamValue,
    RunConfig,
    StrategyDefinitionError,
    coerce_params,
)
from app.engine.config import RUN_CONFIG_FIELDS, FieldRole
from app.runs.errors import InvalidRunRequestError, StrategyLoadError
from app.settings import Settings
from sandbox import (
    OperatorMaximums,
    RunLimits,
    SourceInspection,
    StrategyRejected,
    inspect_source,
)

STRATEGY_FILENAME = "strategy.py"
EXECUTION_FIELDS = tuple(s.name for s in RUN_CONFIG_FIELDS if s.role is FieldRole.EXECUTION)
"""Options of how a run is carried out (its checkpoints), which doors that run one offer."""


@dataclass(frozen=True, slots=True)
class RunOrder:
    """What a door asks to run with, before anything is checked.

    `options` holds RunConfig option fields by name (RUN_CONFIG_FIELDS; a missing one takes
    its default); `start`/`end` are epoch ns UTC; `params` are overrides of the strategy's
    defaults, typed by them (text such as "12" from a command line is parsed).
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    start: int | None = None
    end: int | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    limits: RunLimits = field(default_factory=RunLimits)
    tiers: str | Path | Mapping[str, Any] | None = None
    """The maintenance-tier table: a table name, a table file, an inline table document, or
    None for the symbol's default (app.data.tiers.TierCatalog.choose)."""
    columns: Mapping[str, str] = field(default_factory=dict)
    """A data file's columns read under other names (source -> time/open/high/low/close/
    volume), as `data import --map` takes them; only a door that reads a file uses it."""


@dataclass(frozen=True, slots=True)
class DataIdentity:
    """The market data a run uses, by content: equal content, equal `content_hash`."""

    name: str
    symbol: str
    bars: int
    content_hash: str
    companions: tuple[tuple[str, str], ...] = ()
    """The funding-rate and mark-price series the run uses with its bars: (kind, reference and
    content hash), e.g. ("mark", "BTCUSDT/mark-1h@1 (sha256:...)")."""


@dataclass(frozen=True, slots=True)
class RunInputs:
    """What a run's results depend on: checked source, the data's identity, the config."""

    code: str
    filename: str
    inspection: SourceInspection
    data: DataIdentity
    config: RunConfig

    @property
    def strategy_class(self) -> str:
        return self.inspection.strategy_class

    @property
    def code_hash(self) -> str:
        return code_hash(self.code)


@dataclass(frozen=True, slots=True)
class PreparedRun:
    """A run ready to execute: its inputs, the market data itself, and its limits."""

    inputs: RunInputs
    market: MarketData
    limits: RunLimits
    maximums: OperatorMaximums


def code_hash(code: str) -> str:
    """sha256 of the source's UTF-8 bytes."""
    return hashlib.sha256(code.encode()).hexdigest()


def operator_maximums(settings: Settings) -> OperatorMaximums:
    """The operator's ceilings on every run's limits, from Settings (the same for every door)."""
    return OperatorMaximums(
        wall_seconds=settings.max_wall_seconds,
        cpu_seconds=settings.max_cpu_seconds,
        memory_mb=settings.max_memory_mb,
    )


def limits_within(limits: RunLimits, maximums: OperatorMaximums) -> RunLimits:
    """`limits` with each value lowered to the operator's maximum where that is lower."""
    return replace(
        limits,
        wall_seconds=min(limits.wall_seconds, maximums.wall_seconds),
        cpu_seconds=min(limits.cpu_seconds, maximums.cpu_seconds),
        memory_mb=min(limits.memory_mb, maximums.memory_mb),
        max_log_lines=min(limits.max_log_lines, maximums.max_log_lines),
        max_log_line_chars=min(limits.max_log_line_chars, maximums.max_log_line_chars),
        max_log_chars=min(limits.max_log_chars, maximums.max_log_chars),
    )


def inspect_strategy(code: str, filename: str = STRATEGY_FILENAME) -> SourceInspection:
    """The sandbox's inspection of `code`; StrategyRejected with every diagnostic when any is
    an error (so nothing unrunnable is ever stored or started)."""
    inspection = inspect_source(code, filename)
    if not inspection.is_runnable:
        raise StrategyRejected(list(inspection.diagnostics))
    return inspection


def read_strategy_file(path: Path) -> str:
    """A strategy file's text; StrategyLoadError naming the file when it cannot be read."""
    if not path.is_file():
        raise StrategyLoadError(f"strategy file {path} does not exist")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise StrategyLoadError(f"strategy file {path} is not UTF-8 text") from None
    except OSError as error:
        raise StrategyLoadError(f"strategy file {path} cannot be read: {error.strerror}") from None


def load_data_file(
    path: Path, *, symbol: str, column_map: Mapping[str, str] | None = None
) -> tuple[MarketData, DataIdentity]:
    """An OHLCV file (CSV or Parquet) as MarketData, with its identity by content;
    `column_map` renames columns (source -> standard name), as `data import --map`."""
    frame = read_ohlcv(path, column_map=column_map)
    market = MarketData.from_frame(frame, symbol=symbol)
    return market, DataIdentity(path.name, symbol, len(market), content_hash(frame))


def typed_params(
    inspection: SourceInspection, overrides: Mapping[str, object]
) -> dict[str, ParamValue]:
    """The strategy's params with `overrides` applied, each typed like its default.

    InvalidRunRequestError("params") for an unknown name or a value of the wrong kind.
    """
    try:
        return coerce_params(inspection.defaults, overrides)
    except StrategyDefinitionError as error:
        raise InvalidRunRequestError("params", str(error)) from None


def build_config(
    order: RunOrder,
    *,
    inspection: SourceInspection,
    symbol: str,
    tiers: TierCatalog | None = None,
) -> RunConfig:
    """The frozen RunConfig of `order`: its options, period, every param, typed, and its
    maintenance-tier table (chosen from `tiers`, the shipped tables when None).

    The config carries all params (defaults included), so two doors asking for the same run
    get the same config and the same fingerprint. Raises ConfigError for a value out of its
    field's bounds, InvalidRunRequestError for an unknown option, bad params or an unusable
    tier table.
    """
    known = {spec.name for spec in OPTION_FIELDS} | set(EXECUTION_FIELDS)
    unknown = sorted(set(order.options) - known)
    if unknown:
        raise InvalidRunRequestError(unknown[0], "is not a run option")
    params = typed_params(inspection, order.params)
    choice = choose_tiers(order, symbol, tiers or TierCatalog())
    return RunConfig(
        **dict(order.options),
        margin_tiers=choice.table.tiers,
        tier_table=choice.label,
        symbol=symbol,
        start=order.start,
        end=order.end,
        params=tuple(sorted(params.items())),
    )


def choose_tiers(order: RunOrder, symbol: str, tiers: TierCatalog) -> TierChoice:
    """The order's tier table; InvalidRunRequestError("tiers") naming what is wrong."""
    try:
        return tiers.choose(order.tiers, symbol)
    except (TierChoiceError, ConfigError) as error:
        raise InvalidRunRequestError("tiers", error.message) from None


def with_params(base: PreparedRun, params: Mapping[str, object]) -> PreparedRun:
    """The same run as `base` with other params: `params` override the strategy's defaults
    (not `base`'s overrides), each typed like its default, exactly as a door's RunOrder would
    type them, so the result is the run `strategylab run --param ...` would prepare.

    Raises InvalidRunRequestError("params") for an unknown name or a value of the wrong kind.
    """
    inputs = base.inputs
    typed = typed_params(inputs.inspection, params)
    config = replace(inputs.config, params=tuple(sorted(typed.items())))
    return replace(base, inputs=replace(inputs, config=config))


def prepare_file_run(
    strategy_path: Path,
    data_path: Path,
    order: RunOrder,
    *,
    symbol: str,
    maximums: OperatorMaximums,
    tiers: TierCatalog | None = None,
) -> PreparedRun:
    """A run of a strategy file on a data file (the CLI's door); its tier table from `tiers`
    (the shipped tables when None)."""
    code = read_strategy_file(strategy_path)
    inspection = inspect_strategy(code, strategy_path.name)
    market, data = load_data_file(data_path, symbol=symbol, column_map=order.columns)
    config = build_config(order, inspection=inspection, symbol=symbol, tiers=tiers)
    inputs = RunInputs(code, strategy_path.name, inspection, data, config)
    return PreparedRun(inputs, market, order.limits, maximums)


def data_identity(entry: DatasetEntry) -> DataIdentity:
    """A catalog entry's identity by content, as the run's provenance records it."""
    return DataIdentity(
        entry.name,
        entry.symbol,
        entry.rows,
        entry.content_hash,
        tuple(sorted(entry.companions().items())),
    )
