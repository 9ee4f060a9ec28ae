"""The frozen per-run configuration, the table that describes each of its fields, and its
fingerprint for provenance.

`RUN_CONFIG_FIELDS` is the one place a field's type, unit, bounds, default and help text are
written. RunConfig checks itself against it; the API schema, the CLI options, the run form and
the docs are generated from it (tests/runs/test_config_fields.py holds them to it).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import StrEnum
from typing import Any, Final

from app.engine.caps import DEFAULT_MAX_ORDERS, DEFAULT_MAX_TRADES
from app.engine.errors import ConfigError
from app.engine.margin import (
    BINANCE_BTCUSDT_TIERS,
    DEFAULT_TIER_TABLE,
    MarginTier,
    SymbolTierTable,
)
from app.engine.types import Mode

ParamValue = bool | int | float | str

CONFIG_VERSION: Final = 1
MAX_LEVERAGE: Final = 125.0
MAX_CASH: Final = 1e12
MAX_FEE: Final = 0.1
MAX_FUNDING_RATE: Final = 0.03
FUNDING_INTERVALS_H: Final = (1, 4, 8)
TRADING_DAYS: Final = (365, 252)
MAX_CHECKPOINT_EVERY: Final = 10**9
MAX_KEEP_CHECKPOINTS: Final = 100
MARGIN_MODES: Final = ("isolated", "cross")


class FieldRole(StrEnum):
    """Where a field's value comes from, so each door knows which fields it must offer."""

    OPTION = "option"  # a setting every door (API, CLI, run form) offers, same default/bounds
    PERIOD = "period"  # a moment every door takes as a date (epoch ns inside the config)
    DATASET = "dataset"  # follows from the chosen dataset (the CLI names it with --symbol)
    STRATEGY = "strategy"  # the strategy's own params, typed by their defaults
    TABLE = "table"  # a table of data (margin tiers), not a single value a form can hold
    OPERATOR = "operator"  # a cap the operator's sandbox limits bound; not a request option
    EXECUTION = "execution"  # how a long run is carried out (checkpoints), never its results


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One RunConfig field as every door shows it.

    Numeric bounds are `minimum`/`maximum`, each inclusive unless its `*_exclusive` flag says
    otherwise; `choices` lists the only allowed values when the field takes a few.
    """

    name: str
    kind: type
    default: Any
    unit: str
    help: str
    role: FieldRole = FieldRole.OPTION
    minimum: float | None = None
    maximum: float | None = None
    is_minimum_exclusive: bool = False
    is_maximum_exclusive: bool = False
    choices: tuple[Any, ...] = ()

    @property
    def flag(self) -> str:
        """The command-line option: `--fee-taker`."""
        return "--" + self.name.replace("_", "-")

    def bounds_text(self) -> str:
        """The allowed values in words, e.g. '1 to 125' or '0 to 0.1 (excluded)'."""
        if self.choices:
            return "one of " + ", ".join(_plain(choice) for choice in self.choices)
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            left = f"{low:g}{' (excluded)' if self.is_minimum_exclusive else ''}"
            return f"{left} to {high:g}{' (excluded)' if self.is_maximum_exclusive else ''}"
        if low is not None:
            return f"more than {low:g}" if self.is_minimum_exclusive else f"at least {low:g}"
        if high is not None:
            return f"below {high:g}" if self.is_maximum_exclusive else f"at most {high:g}"
        return "any finite number" if self.kind is float else "any"

    def describe(self) -> str:
        """Help text with unit, bounds and default, as the CLI and the docs print it."""
        unit = f" ({self.unit})" if self.unit else ""
        return f"{self.help}{unit}; {self.bounds_text()}; default {_plain(self.default)}."

    def check(self, value: object) -> None:
        """Raise ConfigError naming this field when `value` is outside its type or bounds."""
        if self.kind is float or self.kind is int:
            _check_number(self, value)
        elif self.kind is Mode and not isinstance(value, Mode):
            raise ConfigError(self.name, f"must be one of spot, futures, got {value!r}")
        if self.choices and value not in self.choices:
            raise ConfigError(self.name, f"must be {self.bounds_text()}, got {_plain(value)}")


def _check_number(spec: ConfigField, value: object) -> None:
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if spec.kind is int and not (is_number and float(value).is_integer()):  # type: ignore[arg-type]
        raise ConfigError(spec.name, f"must be a whole number, got {value!r}")
    if not is_number or not math.isfinite(value):  # type: ignore[arg-type]
        raise ConfigError(spec.name, f"must be a finite number, got {value!r}")
    number = float(value)  # type: ignore[arg-type]
    low, high = spec.minimum, spec.maximum
    too_low = low is not None and (number <= low if spec.is_minimum_exclusive else number < low)
    too_high = high is not None and (number >= high if spec.is_maximum_exclusive else number > high)
    if too_low or too_high:
        raise ConfigError(spec.name, f"must be {spec.bounds_text()}, got {number:g}")


def _plain(value: object) -> str:
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _spec(
    kind: type,
    unit: str,
    help_text: str,
    role: FieldRole = FieldRole.OPTION,
    **bounds: Any,
) -> dict[str, Any]:
    """A RunConfig field's metadata: everything but its name and default, which the field has."""
    return {"spec": {"kind": kind, "unit": unit, "help": help_text, "role": role, **bounds}}


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything a run depends on besides the strategy code and the market data.

    Each field carries its unit, bounds and help in its metadata (RUN_CONFIG_FIELDS below reads
    them). `start`/`end` are epoch nanoseconds (UTC) bounding the traded period; bars before
    `start` still feed indicator warm-up, bars after `end` are never seen. In spot mode
    leverage is always 1.
    """

    mode: Mode = field(
        default=Mode.FUTURES,
        metadata=_spec(
            Mode,
            "",
            "Market: spot (no leverage, no shorts) or a USDT-margined perpetual",
            choices=tuple(Mode),
        ),
    )
    margin_mode: str = field(
        default="isolated",
        metadata=_spec(
            str,
            "",
            "Margin: isolated per position, or cross (the whole balance backs each)",
            choices=MARGIN_MODES,
        ),
    )
    cash: float = field(
        default=10_000.0,
        metadata=_spec(
            float,
            "quote units",
            "Starting cash",
            minimum=0.0,
            is_minimum_exclusive=True,
            maximum=MAX_CASH,
        ),
    )
    leverage_max: float = field(
        default=MAX_LEVERAGE,
        metadata=_spec(
            float,
            "times",
            "Highest leverage an order may use (spot is always 1)",
            minimum=1.0,
            maximum=MAX_LEVERAGE,
        ),
    )
    fee_maker: float = field(
        default=0.0002,
        metadata=_spec(
            float,
            "fraction of notional, 0.0002 = 0.02 %",
            "Maker fee",
            minimum=0.0,
            maximum=MAX_FEE,
            is_maximum_exclusive=True,
        ),
    )
    fee_taker: float = field(
        default=0.0005,
        metadata=_spec(
            float,
            "fraction of notional, 0.0005 = 0.05 %",
            "Taker fee",
            minimum=0.0,
            maximum=MAX_FEE,
            is_maximum_exclusive=True,
        ),
    )
    slippage_bps: float = field(
        default=0.0,
        metadata=_spec(
            float,
            "basis points of price, always against the trader",
            "Slippage",
            minimum=0.0,
            maximum=1000.0,
            is_maximum_exclusive=True,
        ),
    )
    funding_rate: float = field(
        default=0.0001,
        metadata=_spec(
            float,
            "fraction per funding interval, 0.0001 = 0.01 %",
            "Funding rate when the data carries none",
            minimum=-MAX_FUNDING_RATE,
            maximum=MAX_FUNDING_RATE,
        ),
    )
    funding_interval_h: int = field(
        default=8,
        metadata=_spec(
            int, "hours", "Funding interval when the data carries none", choices=FUNDING_INTERVALS_H
        ),
    )
    trading_days_per_year: int = field(
        default=365,
        metadata=_spec(
            int,
            "days",
            "Annualisation: 365 for 24/7 markets, 252 for markets that close",
            choices=TRADING_DAYS,
        ),
    )
    risk_free_rate: float = field(
        default=0.0,
        metadata=_spec(
            float,
            "fraction per year",
            "Risk-free rate for Sharpe and Sortino",
            minimum=-1.0,
            maximum=1.0,
        ),
    )
    margin_tiers: tuple[MarginTier, ...] = field(
        default=BINANCE_BTCUSDT_TIERS,
        metadata=_spec(tuple, "", "Maintenance-margin tiers by notional", FieldRole.TABLE),
    )
    tier_table: str = field(
        default=DEFAULT_TIER_TABLE,
        metadata=_spec(
            str,
            "",
            "Which table `margin_tiers` holds: exchange/symbol@snapshot (sha256 of the brackets)",
            FieldRole.TABLE,
        ),
    )
    tier_notional_cap: float | None = field(
        default=None,
        metadata=_spec(
            float,
            "quote units",
            "The tier table's largest position (its last bracket's cap); None: no cap recorded",
            FieldRole.TABLE,
        ),
    )
    symbol: str = field(
        default="BTCUSDT", metadata=_spec(str, "", "Symbol of the traded data", FieldRole.DATASET)
    )
    other_datasets: tuple[str, ...] = field(
        default=(),
        metadata=_spec(
            tuple,
            "",
            "A stored run over several symbols: the catalog datasets of its further symbols, "
            "in the order traded (the first dataset is the run's own)",
            FieldRole.DATASET,
        ),
    )
    missing_bars: str = field(
        default="refuse",
        metadata=_spec(
            str,
            "",
            "Several symbols: a bar time one symbol lacks refuses the data (refuse) or is "
            "left out for every symbol (common)",
            FieldRole.DATASET,
        ),
    )
    symbol_tiers: tuple[SymbolTierTable, ...] = field(
        default=(),
        metadata=_spec(
            tuple,
            "",
            "The tier table of each further symbol of a run over several (the primary's is "
            "margin_tiers); a symbol without one uses margin_tiers",
            FieldRole.TABLE,
        ),
    )
    start: int | None = field(
        default=None,
        metadata=_spec(
            int,
            "epoch ns UTC",
            "First traded bar (earlier bars still warm indicators up)",
            FieldRole.PERIOD,
        ),
    )
    end: int | None = field(
        default=None, metadata=_spec(int, "epoch ns UTC", "Last bar used", FieldRole.PERIOD)
    )
    params: tuple[tuple[str, ParamValue], ...] = field(
        default=(), metadata=_spec(tuple, "", "Strategy parameter overrides", FieldRole.STRATEGY)
    )
    max_log_lines: int = field(
        default=100_000,
        metadata=_spec(
            int,
            "lines",
            "Log lines kept (further lines are counted)",
            FieldRole.OPERATOR,
            minimum=1,
        ),
    )
    max_log_line_chars: int = field(
        default=2_000,
        metadata=_spec(
            int,
            "characters",
            "Longest log message kept (a longer one is cut, saying how much)",
            FieldRole.OPERATOR,
            minimum=1,
        ),
    )
    max_log_chars: int = field(
        default=20_000_000,
        metadata=_spec(
            int,
            "characters",
            "Log characters kept per run (further lines are counted)",
            FieldRole.OPERATOR,
            minimum=1,
        ),
    )
    max_orders: int = field(
        default=DEFAULT_MAX_ORDERS,
        metadata=_spec(
            int,
            "orders",
            "Orders a run may make (past it the run stops)",
            FieldRole.OPERATOR,
            minimum=1,
        ),
    )
    max_trades: int = field(
        default=DEFAULT_MAX_TRADES,
        metadata=_spec(
            int,
            "trades",
            "Trades a run may make (past it the run stops)",
            FieldRole.OPERATOR,
            minimum=1,
        ),
    )
    checkpoint_every: int = field(
        default=0,
        metadata=_spec(
            int,
            "bars",
            "Save a checkpoint every this many bars, to resume after a crash (0: never)",
            FieldRole.EXECUTION,
            minimum=0,
            maximum=MAX_CHECKPOINT_EVERY,
        ),
    )
    keep_checkpoints: int = field(
        default=2,
        metadata=_spec(
            int,
            "checkpoints",
            "Checkpoints kept in the run folder (older ones are removed)",
            FieldRole.EXECUTION,
            minimum=1,
            maximum=MAX_KEEP_CHECKPOINTS,
        ),
    )

    def __post_init__(self) -> None:
        for spec in RUN_CONFIG_FIELDS:
            if spec.role in (FieldRole.OPTION, FieldRole.OPERATOR, FieldRole.EXECUTION):
                spec.check(getattr(self, spec.name))
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ConfigError("end", "the end of the period is before its start")
        cap = self.tier_notional_cap
        is_number = isinstance(cap, int | float) and not isinstance(cap, bool)
        if cap is not None and not (is_number and 0 < cap < math.inf):
            raise ConfigError(
                "tier_notional_cap", f"must be a positive finite notional, got {cap!r}"
            )
        if self.missing_bars not in ("refuse", "common"):
            raise ConfigError(
                "missing_bars", f"must be refuse or common, got {self.missing_bars!r}"
            )
        if self.mode is Mode.SPOT and self.leverage_max != 1.0:
            object.__setattr__(self, "leverage_max", 1.0)

    @property
    def param_dict(self) -> dict[str, ParamValue]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description with its format `version` (the database, the wire, the
        provenance record and the fingerprint use it); `from_dict` reads it back."""
        data = asdict(self)
        data["mode"] = self.mode.value
        data["margin_tiers"] = [asdict(tier) for tier in self.margin_tiers]
        # the fields of a run over several symbols (and cross margin) are written only when
        # set, so a config made without them keeps its format and its fingerprint
        for name, default in _SEVERAL_SYMBOL_DEFAULTS.items():
            if getattr(self, name) == default:
                del data[name]
        if self.symbol_tiers:
            data["symbol_tiers"] = [_symbol_tiers_dict(table) for table in self.symbol_tiers]
        if self.other_datasets:
            data["other_datasets"] = list(self.other_datasets)
        data["params"] = dict(self.params)
        data["version"] = CONFIG_VERSION
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        """The config `to_dict` described. A dict without `version` is read as version 1 (runs
        stored before the field existed); an unknown version or field is a ConfigError."""
        values = dict(data)
        version = values.pop("version", CONFIG_VERSION)
        if version != CONFIG_VERSION:
            raise ConfigError("version", f"config format {version!r} is not {CONFIG_VERSION}")
        unknown = sorted(set(values) - {f.name for f in fields(cls)})
        if unknown:
            raise ConfigError(unknown[0], "is not a run-config field")
        try:
            if "mode" in values:
                values["mode"] = Mode(values["mode"])
            if "margin_tiers" in values:
                values["margin_tiers"] = tuple(MarginTier(**t) for t in values["margin_tiers"])
            if "params" in values:
                values["params"] = tuple(dict(values["params"]).items())
            if "other_datasets" in values:
                values["other_datasets"] = tuple(str(name) for name in values["other_datasets"])
            if "symbol_tiers" in values:
                values["symbol_tiers"] = tuple(
                    _symbol_tiers_from(table) for table in values["symbol_tiers"]
                )
        except (TypeError, ValueError, AttributeError) as error:
            raise ConfigError("config", f"cannot be read: {error}") from None
        return cls(**values)

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of `to_dict()`: equal configs, equal hashes."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


RUN_CONFIG_FIELDS: Final[tuple[ConfigField, ...]] = tuple(
    ConfigField(name=f.name, default=f.default, **f.metadata["spec"]) for f in fields(RunConfig)
)
FIELDS_BY_NAME: Final[Mapping[str, ConfigField]] = {spec.name: spec for spec in RUN_CONFIG_FIELDS}
OPTION_FIELDS: Final = tuple(s for s in RUN_CONFIG_FIELDS if s.role is FieldRole.OPTION)


_SEVERAL_SYMBOL_DEFAULTS: Final[Mapping[str, Any]] = {
    "other_datasets": (),
    "missing_bars": "refuse",
    "symbol_tiers": (),
    "margin_mode": "isolated",
}


def _symbol_tiers_dict(table: SymbolTierTable) -> dict[str, Any]:
    return {
        "symbol": table.symbol,
        "table": table.table,
        "tiers": [asdict(tier) for tier in table.tiers],
        "notional_cap": table.notional_cap,
    }


def _symbol_tiers_from(data: Mapping[str, Any]) -> SymbolTierTable:
    return SymbolTierTable(
        symbol=str(data["symbol"]),
        table=str(data["table"]),
        tiers=tuple(MarginTier(**tier) for tier in data["tiers"]),
        notional_cap=data.get("notional_cap"),
    )


def symbol_config(config: RunConfig, symbol: str) -> RunConfig:
    """The config one symbol of a run over several trades under: the run's, with that
    symbol's tier table (`symbol_tiers`) when it has one. The primary symbol's is `config`."""
    if symbol == config.symbol:
        return config
    for table in config.symbol_tiers:
        if table.symbol == symbol:
            return replace(
                config,
                symbol=symbol,
                margin_tiers=table.tiers,
                tier_table=table.table,
                tier_notional_cap=table.notional_cap,
                symbol_tiers=(),
                other_datasets=(),
            )
    return replace(config, symbol=symbol, symbol_tiers=(), other_datasets=())
