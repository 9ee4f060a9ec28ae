"""The frozen per-run configuration and its fingerprint for provenance."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from app.engine.errors import ConfigError
from app.engine.margin import BINANCE_BTCUSDT_TIERS, MarginTier
from app.engine.types import Mode

ParamValue = bool | int | float | str

FUNDING_INTERVALS_H = (1, 4, 8)
MAX_LEVERAGE = 125.0


@dataclass(frozen=True, slots=True)
class RunConfig:
    """Everything a run depends on besides the strategy code and the market data.

    Fees are fractions of notional (0.0004 = 0.04 %); slippage is in basis points of price and
    always moves the fill against the trader. `funding_rate` is the constant rate per funding
    interval used when the data carries no funding series (Binance's base rate is 0.01 % per 8 h).
    `start`/`end` are epoch nanoseconds (UTC) bounding the traded period; bars before `start`
    still feed indicator warm-up, bars after `end` are never seen.
    """

    mode: Mode = Mode.FUTURES
    cash: float = 10_000.0
    leverage_max: float = MAX_LEVERAGE
    fee_maker: float = 0.0002
    fee_taker: float = 0.0005
    slippage_bps: float = 0.0
    funding_rate: float = 0.0001
    funding_interval_h: int = 8
    margin_tiers: tuple[MarginTier, ...] = BINANCE_BTCUSDT_TIERS
    symbol: str = "BTCUSDT"
    start: int | None = None
    end: int | None = None
    trading_days_per_year: int = 365
    risk_free_rate: float = 0.0
    params: tuple[tuple[str, ParamValue], ...] = field(default_factory=tuple)
    max_log_lines: int = 100_000

    def __post_init__(self) -> None:
        _require_finite(
            self,
            (
                "cash",
                "leverage_max",
                "fee_maker",
                "fee_taker",
                "slippage_bps",
                "funding_rate",
                "risk_free_rate",
            ),
        )
        if self.cash <= 0:
            raise ConfigError("cash", "starting cash must be positive")
        if not 1.0 <= self.leverage_max <= MAX_LEVERAGE:
            raise ConfigError("leverage_max", f"must be between 1 and {MAX_LEVERAGE:g}")
        if self.mode is Mode.SPOT and self.leverage_max != 1.0:
            object.__setattr__(self, "leverage_max", 1.0)
        for name in ("fee_maker", "fee_taker"):
            if not 0.0 <= getattr(self, name) < 0.1:
                raise ConfigError(name, "a fee is a fraction of notional between 0 and 0.1")
        if not 0.0 <= self.slippage_bps < 1000:
            raise ConfigError("slippage_bps", "slippage must be between 0 and 1000 bps")
        if self.funding_interval_h not in FUNDING_INTERVALS_H:
            raise ConfigError("funding_interval_h", "funding interval must be 1, 4 or 8 hours")
        if self.trading_days_per_year not in (252, 365):
            raise ConfigError("trading_days_per_year", "use 365 for 24/7 markets or 252")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ConfigError("end", "the end of the period is before its start")
        if self.max_log_lines < 1:
            raise ConfigError("max_log_lines", "must be at least 1")

    @property
    def param_dict(self) -> dict[str, ParamValue]:
        return dict(self.params)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (the provenance record and the fingerprint use it)."""
        data = asdict(self)
        data["mode"] = self.mode.value
        data["margin_tiers"] = [asdict(tier) for tier in self.margin_tiers]
        data["params"] = dict(self.params)
        return data

    def fingerprint(self) -> str:
        """sha256 of the canonical JSON of `to_dict()`: equal configs, equal hashes."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _require_finite(config: RunConfig, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(config, name)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ConfigError(name, f"must be a finite number, got {value!r}")
