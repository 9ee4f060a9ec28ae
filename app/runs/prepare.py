"""Prepare a run: inspect the source, resolve the data, build the RunConfig from a request.

Every door (the CLI, the API, later sweeps and remote workers) describes what it wants as a
RunOrder and gets the same PreparedRun back for the same inputs, so the config hash, the data
hash and the code hash, and hence the results, do not depend on the door.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.data.catalog import DatasetCatalog, DatasetEntry
from app.data.columns import read_ohlcv_columns
from app.data.tiers import TierCatalog, TierChoice, TierChoiceError
from app.engine import (
    MISSING_BAR_POLICIES,
    OPTION_FIELDS,
    ConfigError,
    MarketData,
    MarketDataError,
    ParamValue,
    RunConfig,
    StrategyDefinitionError,
    SymbolTierTable,
    align_symbols,
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
    more_data: tuple[tuple[str, Path], ...] = ()
    """Further symbols traded in the same account, as (symbol, data file): a run over several
    symbols (the door's first dataset is the primary, `self.data`)."""
    more_datasets: tuple[str, ...] = ()
    """Further symbols traded in the same account, as catalog dataset names (the API's door;
    the request's `dataset` is the primary)."""
    missing_bars: str = "refuse"
    """What a bar time not every symbol has does (app.engine.timeline.MISSING_BAR_POLICIES):
    "refuse" the data, or trade only the "common" bar times."""


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
    other_symbols: tuple[DataIdentity, ...] = ()
    """A run over several symbols: each further symbol's data, in the order traded."""
    missing_bars: str = "refuse"
    """How the symbols' bar times were aligned (app.engine.timeline), with several symbols."""
    bars_dropped: int = 0
    """Bar times left out because not every symbol had a bar there ("common")."""


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
    columns = read_ohlcv_columns(path, column_map=column_map)  # no DataFrame: app/data/columns.py
    market = columns.market(symbol)
    return market, DataIdentity(path.name, symbol, len(market), columns.content_hash())


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
    other_symbols: Sequence[str] = (),
    other_datasets: Sequence[str] = (),
) -> RunConfig:
    """The frozen RunConfig of `order`: its options, period, every param, typed, and its
    maintenance-tier table (chosen from `tiers`, the shipped tables when None).

    The config carries all params (defaults included), so two doors asking for the same run
    get the same config and the same fingerprint. Raises ConfigError for a value out of its
    field's bounds, InvalidRunRequestError for an unknown option, bad params or an unusable
    tier table. `other_symbols` (a run over several symbols) each get their own default
    table (`symbol_tiers`); the order's `tiers` is the primary symbol's. `other_datasets`
    names their catalog datasets (a stored run reads them back from its config).
    """
    known = {spec.name for spec in OPTION_FIELDS} | set(EXECUTION_FIELDS)
    unknown = sorted(set(order.options) - known)
    if unknown:
        raise InvalidRunRequestError(unknown[0], "is not a run option")
    params = typed_params(inspection, order.params)
    if other_symbols and order.options.get("checkpoint_every"):
        raise InvalidRunRequestError(
            "checkpoint_every",
            "a run over several symbols cannot take checkpoints yet; run it without them",
        )
    catalog = tiers or TierCatalog()
    choice = choose_tiers(order, symbol, catalog)
    symbol_tiers = tuple(
        SymbolTierTable(other, own.label, own.table.tiers, own.table.max_position)
        for other in other_symbols
        for own in [choose_tiers(replace(order, tiers=None), other, catalog)]
    )
    return RunConfig(
        **dict(order.options),
        margin_tiers=choice.table.tiers,
        tier_table=choice.label,
        tier_notional_cap=choice.table.max_position,
        symbol=symbol,
        symbol_tiers=symbol_tiers,
        other_datasets=tuple(other_datasets),
        missing_bars=order.missing_bars if other_symbols else "refuse",
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
    if order.more_data:
        market, data = _with_more_symbols(market, data, order)
    config = build_config(
        order,
        inspection=inspection,
        symbol=symbol,
        tiers=tiers,
        other_symbols=[other.symbol for other in data.other_symbols],
    )
    inputs = RunInputs(code, strategy_path.name, inspection, data, config)
    return PreparedRun(inputs, market, order.limits, maximums)


def _with_more_symbols(
    market: MarketData, data: DataIdentity, order: RunOrder
) -> tuple[MarketData, DataIdentity]:
    """`market` with `order.more_data`'s symbols on one timeline (app.engine.timeline), and
    the identity of every dataset; InvalidRunRequestError("data") with the aligner's sentence."""
    others = [
        load_data_file(path, symbol=other, column_map=order.columns)
        for other, path in order.more_data
    ]
    return with_other_symbols(market, data, others, order.missing_bars)


def with_other_symbols(
    market: MarketData,
    data: DataIdentity,
    others: Sequence[tuple[MarketData, DataIdentity]],
    missing_bars: str,
    field_name: str = "data",
) -> tuple[MarketData, DataIdentity]:
    """`market` with the `others`' symbols on one timeline (app.engine.timeline), and the
    identity of every dataset; InvalidRunRequestError(`field_name`) with the aligner's
    sentence (a missing bar, another bar size, a symbol given twice)."""
    if missing_bars not in MISSING_BAR_POLICIES:
        raise InvalidRunRequestError(
            "missing_bars", f"must be one of {', '.join(MISSING_BAR_POLICIES)}"
        )
    try:
        aligned = align_symbols([market, *(m for m, _ in others)], missing_bars=missing_bars)
    except MarketDataError as error:
        raise InvalidRunRequestError(field_name, str(error)) from None
    return aligned, replace(
        data,
        other_symbols=tuple(identity for _, identity in others),
        missing_bars=missing_bars,
        bars_dropped=aligned.bars_dropped,
    )


def data_identity(entry: DatasetEntry) -> DataIdentity:
    """A catalog entry's identity by content, as the run's provenance records it."""
    return DataIdentity(
        entry.name,
        entry.symbol,
        entry.rows,
        entry.content_hash,
        tuple(sorted(entry.companions().items())),
    )


def catalog_run_data(
    catalog: DatasetCatalog, entry: DatasetEntry, others: Sequence[DatasetEntry], missing_bars: str
) -> tuple[MarketData, DataIdentity]:
    """A catalog dataset's bars, with `others` (further symbols' datasets) on one timeline:
    the market a stored run over several symbols trades and the identity of its data."""
    market, data = catalog.load_market(entry), data_identity(entry)
    if not others:
        return market, data
    loaded = [(catalog.load_market(other), data_identity(other)) for other in others]
    return with_other_symbols(market, data, loaded, missing_bars, "more_datasets")
