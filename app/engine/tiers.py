"""Maintenance-tier tables as dated data: one exchange's brackets for one symbol, with where and
when they were published, checked for the consistency Binance's arithmetic relies on, and the
position limits a table sets (`check_position_limits`: its largest position, and the largest
position at a leverage), checked when an order fills.

A table document (JSON in `app/data/tier_tables/`, or imported into the store) reads:

    {"format": "strategylab-tiers/1", "exchange": "binance-usdtm", "symbol": "BTCUSDT",
     "snapshot_date": "2024-06-28/2024-09-27", "source": "...",
     "brackets": [{"notional_floor": 0, "notional_cap": 50000, "maintenance_rate": 0.004,
                   "maintenance_amount": 0, "max_leverage": 125}, ...]}

`snapshot_date` is an ISO 8601 date (`2024-10-01`) or, when only bounds are known, an ISO
interval (`2024-06-28/2024-09-27`). Brackets are Binance's `notionalFloor`, `notionalCap`,
`maintMarginRatio`, `cum` and `initialLeverage`. Binance publishes `cum` (the maintenance
amount) so that the maintenance margin, notional x rate - cum, is continuous where one bracket
ends and the next starts ("Leverage and Margin of USDⓈ-M Futures",
binance.com/en/support/faq/360033162192): cum(k) = cum(k-1) + floor(k) x (rate(k) - rate(k-1)).
A table that breaks it, or leaves a hole between brackets, is refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from app.engine.errors import ConfigError
from app.engine.events import Refusal, RejectReason
from app.engine.margin import MarginTier

TIER_FORMAT: Final = "strategylab-tiers/1"
FIELD: Final = "tiers"
"""The run option a bad table is reported against (`--tiers` on the command line)."""
MAX_BRACKETS: Final = 64
CUM_TOLERANCE: Final = 1e-6
"""Largest relative gap (of the maintenance margin at a bracket edge) accepted as rounding."""
_BRACKET_KEYS: Final = (
    "notional_floor",
    "notional_cap",
    "maintenance_rate",
    "maintenance_amount",
    "max_leverage",
)
_SYMBOL: Final = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,39}$")
_EXCHANGE: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
MAX_SOURCE_CHARS: Final = 500


@dataclass(frozen=True, slots=True)
class TierTable:
    """One symbol's maintenance brackets as an exchange published them on a date.

    `tiers` are the engine's brackets (floors in quote units, rates as fractions);
    `notional_cap` is the last bracket's cap, the largest position the table allows (infinite
    when the source did not record it).
    """

    exchange: str
    symbol: str
    snapshot_date: str
    source: str
    tiers: tuple[MarginTier, ...]
    notional_cap: float

    @property
    def max_position(self) -> float | None:
        """The largest position notional the table allows (quote units), None without a cap:
        what a run's config carries as `tier_notional_cap`."""
        return self.notional_cap if math.isfinite(self.notional_cap) else None

    @property
    def name(self) -> str:
        """`binance-usdtm/BTCUSDT@2024-10-01`: what the run form, the log and provenance show."""
        return f"{self.exchange}/{self.symbol}@{self.snapshot_date}"

    @property
    def sha256(self) -> str:
        """sha256 of the brackets alone (see `tiers_sha256`): equal brackets, equal hash."""
        return tiers_sha256(self.tiers)

    @property
    def latest_day(self) -> str:
        """The snapshot's last known day (the end of an interval), for ordering snapshots."""
        return self.snapshot_date.rpartition("/")[2]

    def label(self) -> str:
        """`binance-usdtm/BTCUSDT@2024-10-01 (sha256:1a2b3c4d5e6f)`: the name and the hash,
        which together say exactly which brackets a run used."""
        return f"{self.name} (sha256:{self.sha256[:12]})"

    def identity(self) -> dict[str, Any]:
        """The table as a run's provenance records it."""
        return {
            "name": self.name,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "snapshot_date": self.snapshot_date,
            "source": self.source,
            "sha256": self.sha256,
            "brackets": len(self.tiers),
        }

    def to_document(self) -> dict[str, Any]:
        """The JSON document `parse_tier_table` reads back."""
        caps = [tier.notional_floor for tier in self.tiers[1:]] + [self.notional_cap]
        return {
            "format": TIER_FORMAT,
            "exchange": self.exchange,
            "symbol": self.symbol,
            "snapshot_date": self.snapshot_date,
            "source": self.source,
            "brackets": [
                {
                    "notional_floor": _plain_number(tier.notional_floor),
                    "notional_cap": _plain_number(cap) if math.isfinite(cap) else None,
                    "maintenance_rate": tier.maintenance_rate,
                    "maintenance_amount": _plain_number(tier.maintenance_amount),
                    "max_leverage": _plain_number(tier.max_leverage),
                }
                for tier, cap in zip(self.tiers, caps, strict=True)
            ],
        }


def tiers_sha256(tiers: Sequence[MarginTier]) -> str:
    """sha256 of the canonical JSON of the brackets (floor, rate, amount, max leverage, in
    order): the identity of the numbers a run computes with, whatever the file looked like."""
    rows = [
        [tier.notional_floor, tier.maintenance_rate, tier.maintenance_amount, tier.max_leverage]
        for tier in tiers
    ]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def tier_index(notional: float, tiers: Sequence[MarginTier]) -> int:
    """The 0-based bracket whose range holds `notional` (floors inclusive)."""
    chosen = 0
    for position, tier in enumerate(tiers):
        if notional >= tier.notional_floor:
            chosen = position
        else:
            break
    return chosen


def parse_tier_table(document: object, *, where: str = "the tier table") -> TierTable:
    """Check a table document (see the module docstring) and build its TierTable.

    Raises ConfigError("tiers", ...) with one sentence naming `where`, the bracket and the
    field for anything wrong: missing or unknown keys, numbers that are not finite, floors that
    do not start at 0 or leave holes, rates outside (0, 1) or falling, leverage outside
    [1, 125] or rising, or a maintenance amount that breaks continuity at a bracket edge.
    """
    if not isinstance(document, Mapping):
        raise ConfigError(FIELD, f"{where} must be a JSON object with `brackets`")
    _check_keys(
        document, {"format", "exchange", "symbol", "snapshot_date", "source", "brackets"}, where
    )
    if document.get("format", TIER_FORMAT) != TIER_FORMAT:
        raise ConfigError(FIELD, f"{where}: `format` must be {TIER_FORMAT!r}")
    exchange = _text(document, "exchange", _EXCHANGE, where, "lower-case letters, digits, -")
    symbol = _text(document, "symbol", _SYMBOL, where, "upper-case letters and digits")
    snapshot = _snapshot_date(document.get("snapshot_date"), where)
    source = document.get("source")
    if not isinstance(source, str) or not source.strip() or len(source) > MAX_SOURCE_CHARS:
        raise ConfigError(
            FIELD, f"{where}: `source` must say where the figures come from (1-500 characters)"
        )
    brackets = document.get("brackets")
    if not isinstance(brackets, list) or not brackets or len(brackets) > MAX_BRACKETS:
        raise ConfigError(FIELD, f"{where}: `brackets` must be a list of 1 to {MAX_BRACKETS}")
    rows = [
        _bracket(row, position, where, is_last=position == len(brackets))
        for position, row in enumerate(brackets, start=1)
    ]
    tiers = check_brackets(rows, where)
    return TierTable(exchange, symbol, snapshot, source.strip(), tiers, rows[-1][1])


def check_brackets(
    rows: Sequence[tuple[float, float, float, float, float]], where: str
) -> tuple[MarginTier, ...]:
    """Brackets (floor, cap, rate, amount, max leverage) checked for holes and continuity."""
    tiers: list[MarginTier] = []
    for position, (floor, cap, rate, amount, leverage) in enumerate(rows, start=1):
        at = f"{where}, bracket {position}"
        if position == 1 and floor != 0:
            raise ConfigError(FIELD, f"{at}: the first bracket must start at notional 0")
        if cap <= floor:
            raise ConfigError(FIELD, f"{at}: notional_cap {cap:g} is not above its floor")
        if tiers:
            previous_cap = rows[position - 2][1]
            if floor != previous_cap:
                raise ConfigError(
                    FIELD,
                    f"{at}: starts at {floor:,.0f} but bracket {position - 1} ends at "
                    f"{previous_cap:,.0f}; brackets must meet",
                )
            _check_step(tiers[-1], rate, amount, leverage, floor, at)
        elif amount != 0:
            raise ConfigError(FIELD, f"{at}: the first maintenance_amount must be 0")
        if not 0 < rate < 1:
            raise ConfigError(FIELD, f"{at}: maintenance_rate {rate:g} is not in (0, 1)")
        if not 1 <= leverage <= 125:
            raise ConfigError(FIELD, f"{at}: max_leverage {leverage:g} is not in [1, 125]")
        tiers.append(MarginTier(floor, rate, leverage, amount))
    return tuple(tiers)


def _check_step(
    previous: MarginTier, rate: float, amount: float, leverage: float, floor: float, at: str
) -> None:
    if rate < previous.maintenance_rate:
        raise ConfigError(FIELD, f"{at}: maintenance_rate falls from the bracket before")
    if leverage > previous.max_leverage:
        raise ConfigError(FIELD, f"{at}: max_leverage rises from the bracket before")
    # Continuity at the edge: floor x rate(k-1) - cum(k-1) == floor x rate(k) - cum(k).
    expected = previous.maintenance_amount + floor * (rate - previous.maintenance_rate)
    scale = max(floor * rate, 1.0)
    if abs(amount - expected) > CUM_TOLERANCE * scale:
        raise ConfigError(
            FIELD,
            f"{at}: maintenance_amount {amount:,.6g} breaks the continuity of the maintenance "
            f"margin at {floor:,.0f} (it must be {expected:,.6g} = previous amount + floor x "
            "rate step); check the figures",
        )


def _check_keys(document: Mapping[Any, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(key) for key in document if key not in allowed)
    if unknown:
        raise ConfigError(
            FIELD, f"{where}: unknown key {unknown[0]!r} (known: {', '.join(sorted(allowed))})"
        )


def _text(
    document: Mapping[str, Any], key: str, pattern: re.Pattern[str], where: str, hint: str
) -> str:
    value = document.get(key)
    if not isinstance(value, str) or not pattern.match(value):
        raise ConfigError(FIELD, f"{where}: `{key}` must be a name of {hint}, got {value!r}")
    return value


def _snapshot_date(value: object, where: str) -> str:
    message = (
        f"{where}: `snapshot_date` must be an ISO date such as 2024-10-01, or an interval "
        f"2024-06-28/2024-09-27 when only its bounds are known; got {value!r}"
    )
    if not isinstance(value, str):
        raise ConfigError(FIELD, message)
    days = value.split("/")
    try:
        parsed = [date.fromisoformat(day) for day in days]
    except ValueError:
        raise ConfigError(FIELD, message) from None
    if len(days) > 2 or any(len(day) != 10 for day in days) or parsed != sorted(parsed):
        raise ConfigError(FIELD, message)
    return value


def _bracket(
    row: object, position: int, where: str, *, is_last: bool
) -> tuple[float, float, float, float, float]:
    """One bracket's numbers; the last bracket's `notional_cap` may be null (no published cap:
    infinite)."""
    at = f"{where}, bracket {position}"
    if not isinstance(row, Mapping):
        raise ConfigError(FIELD, f"{at} must be an object with {', '.join(_BRACKET_KEYS)}")
    _check_keys(row, set(_BRACKET_KEYS), at)
    values = []
    for key in _BRACKET_KEYS:
        value = row.get(key)
        if key == "notional_cap" and value is None and is_last:
            values.append(math.inf)
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(FIELD, f"{at}: `{key}` must be a number, got {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ConfigError(FIELD, f"{at}: `{key}` must be a finite number >= 0, got {value!r}")
        values.append(float(value))
    floor, cap, rate, amount, leverage = values
    return floor, cap, rate, amount, leverage


def _plain_number(value: float) -> float | int:
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def limit_index(notional: float, tiers: Sequence[MarginTier]) -> int:
    """The 0-based bracket whose maximum leverage bounds a position of `notional`: the first
    bracket whose cap (the next floor) is at or above it. Unlike `tier_index` (floors
    inclusive, the maintenance rule), a position of exactly a bracket's cap still takes that
    bracket's leverage: Binance's largest position at a leverage (`maxNotionalValue`) is the cap
    of the last bracket allowing it, a position up to and including it."""
    chosen = 0
    for position, tier in enumerate(tiers):
        if notional > tier.notional_floor:
            chosen = position
        else:
            break
    return chosen


def check_position_limits(
    leverage: float,
    notional: float,
    tiers: Sequence[MarginTier],
    notional_cap: float | None,
    table: str,
) -> Refusal | None:
    """Why a futures position of `notional` (quote units, after the order) cannot be held at
    `leverage`, or None. The one place both of the table's position limits are checked:

    - the table's largest position: `notional_cap`, the last bracket's cap (None or infinite
      when the source recorded none); a position over it is refused whatever the leverage;
    - the largest position at a leverage (Binance, "Leverage and Margin of USDⓈ-M Futures":
      the higher the leverage, the smaller the position you can open; its `maxNotionalValue`
      is the cap of the last bracket whose maximum leverage is at or above it): equivalently,
      the leverage may not exceed the maximum of the bracket (`limit_index`) holding `notional`.

    A position exactly at a cap is allowed; only an increase is checked (a reduce never is).
    """
    if notional_cap is not None and notional > notional_cap:
        return Refusal(
            RejectReason.NOTIONAL_CAP, notional_cap_message(notional, notional_cap, table)
        )
    if leverage > tiers[limit_index(notional, tiers)].max_leverage:
        return Refusal(
            RejectReason.TIER_LEVERAGE,
            tier_leverage_message(leverage, notional, tiers, table, notional_cap),
        )
    return None


def notional_cap_message(notional: float, notional_cap: float, table: str) -> str:
    """The refusal of an order that would take the position over the table's largest one."""
    return (
        f"position notional {notional:,.0f} would exceed {notional_cap:,.0f}, the largest "
        f"position (the last bracket's cap) of {table}; use a smaller amount"
    )


def tier_leverage_message(
    leverage: float,
    notional: float,
    tiers: Sequence[MarginTier],
    table: str,
    notional_cap: float | None = None,
) -> str:
    """The refusal of an order whose leverage is above its bracket's maximum: the bracket, its
    range (the last one's up to `notional_cap` when known), its maximum, the table, and the
    leverage that would be accepted."""
    index = limit_index(notional, tiers)
    tier = tiers[index]
    last_cap = math.inf if notional_cap is None else notional_cap
    upper = tiers[index + 1].notional_floor if index + 1 < len(tiers) else last_cap
    span = (
        f"{tier.notional_floor:,.0f} to {upper:,.0f}"
        if math.isfinite(upper)
        else (f"from {tier.notional_floor:,.0f}")
    )
    return (
        f"leverage {leverage:g}x is above the {tier.max_leverage:g}x allowed for a "
        f"{notional:,.0f} notional position (bracket {index + 1}, {span}, of {table}); "
        f"use at most {tier.max_leverage:g}x or a smaller amount"
    )
