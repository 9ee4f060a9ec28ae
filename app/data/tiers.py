"""Maintenance-tier tables on disk: the ones shipped with Strategy Lab, the ones imported into
the store, reading a table file, converting an exchange's own answer, and choosing a run's table.

Shipped tables live in `app/data/tier_tables/<exchange>/<SYMBOL>-<last day>.json`; imported
ones in `<data dir>/store/<SYMBOL>/tiers/<last day>-<sha256 prefix>.json`, beside the symbol's
datasets. Both hold the document `app.engine.tiers.parse_tier_table` reads.

A run's table is, in this order: the one the run names (a file on the command line, a table
name or an inline document in the API); the symbol's latest imported table; the symbol's latest
shipped table; otherwise BTCUSDT's latest shipped table stands in, and the run's `tier_table`
says so ("... standing in for XYZUSDT, which has no table").
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from app.data.errors import DataFileError
from app.data.store import normalise_symbol
from app.engine.errors import ConfigError
from app.engine.tiers import FIELD, TIER_FORMAT, TierTable, parse_tier_table

logger = logging.getLogger(__name__)

SHIPPED_DIR: Final = Path(__file__).parent / "tier_tables"
FALLBACK_SYMBOL: Final = "BTCUSDT"
TIERS_FOLDER: Final = "tiers"
MAX_TIER_FILE_BYTES: Final = 1_000_000
PERPETUAL_SUFFIXES: Final = ("-PERP", ".P", "PERP")
"""Suffixes some stores give a perpetual's symbol (`BTCUSDT-PERP`): its table is BTCUSDT's."""


class TierChoiceError(ValueError):
    """A run names a tier table that cannot be used: the caller fixes `tiers` and retries."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = FIELD
        self.message = message


@dataclass(frozen=True, slots=True)
class TierChoice:
    """The table a run uses and how it was chosen (`named`, `file`, `inline`, `stored`,
    `shipped` or `fallback`); `label` is what the run's config records as `tier_table`."""

    table: TierTable
    how: str
    label: str


def read_tier_file(path: Path) -> TierTable:
    """A table document from a JSON file; DataFileError naming the file, or ConfigError("tiers")
    naming the bracket and field, for anything wrong."""
    if not path.is_file():
        raise DataFileError(f"tier table {path} does not exist; check the path.", path=path)
    if path.stat().st_size > MAX_TIER_FILE_BYTES:
        raise DataFileError(f"tier table {path} is over 1 MB; it is not a tier table.", path=path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        message = f"tier table {path} is not JSON ({error}); see docs/engine.md for the format."
        raise DataFileError(message, path=path) from None
    is_exchange_answer = isinstance(document, Mapping) and "format" not in document
    is_exchange_answer = is_exchange_answer and "brackets" in document
    if isinstance(document, list) or (is_exchange_answer and "snapshot_date" not in document):
        raise ConfigError(
            FIELD,
            f"{path} looks like an exchange's own bracket list; import it with "
            "`strategylab data tiers import FILE --snapshot-date YYYY-MM-DD` first",
        )
    return parse_tier_table(document, where=str(path))


def convert_exchange_tiers(
    raw: object, *, symbol: str, exchange: str, snapshot_date: str, source: str
) -> TierTable:
    """An exchange's answer as a checked TierTable.

    `raw` is ccxt's `fetch_leverage_tiers()[symbol]` (a list of `{minNotional, maxNotional,
    maintenanceMarginRate, maxLeverage, info: {cum}}`), Binance's `/fapi/v1/leverageBracket`
    answer for one symbol (`{"symbol", "brackets": [{notionalFloor, notionalCap,
    maintMarginRatio, cum, initialLeverage}]}`) or a list of those (the entry for `symbol` is
    taken). An exchange that publishes no maintenance amount (ccxt's `info` without `cum`) gets
    the one Binance's continuity rule gives, cum(k) = cum(k-1) + floor(k) x (rate(k) -
    rate(k-1)), and the source says so. Raises ConfigError("tiers") when the figures are not a
    consistent table.
    """
    rows = _exchange_rows(raw, symbol)
    if rows and all(row["maintenance_amount"] is None for row in rows):
        _derive_amounts(rows)
        source = f"{source}; maintenance amounts derived by continuity"
    document = {
        "format": TIER_FORMAT,
        "exchange": exchange,
        "symbol": normalise_symbol(symbol),
        "snapshot_date": snapshot_date,
        "source": source,
        "brackets": rows,
    }
    return parse_tier_table(document, where=f"the {exchange} brackets of {symbol}")


def _exchange_rows(raw: object, symbol: str) -> list[dict[str, Any]]:
    # a list of Binance answers (`symbol` and `brackets` each); ccxt's tiers carry `symbol` too
    first = raw[0] if isinstance(raw, list) and raw else None
    if (
        isinstance(raw, list)
        and isinstance(first, Mapping)
        and {"brackets", "symbol"} <= set(first)
    ):
        wanted = normalise_symbol(symbol)
        found = [item for item in raw if normalise_symbol(str(item.get("symbol"))) == wanted]
        if not found:
            raise ConfigError(FIELD, f"the file has no brackets for {symbol}")
        raw = found[0]
    if isinstance(raw, Mapping) and isinstance(raw.get("brackets"), list):
        return [_binance_row(item) for item in raw["brackets"]]
    if isinstance(raw, list) and all(isinstance(item, Mapping) for item in raw):
        return [_ccxt_row(item) for item in raw]
    raise ConfigError(
        FIELD,
        "the file is neither ccxt's leverage tiers nor Binance's leverageBracket answer",
    )


def _derive_amounts(rows: list[dict[str, Any]]) -> None:
    """Fill each row's maintenance amount by continuity (rows in bracket order); rows whose
    figures are not numbers are left for `parse_tier_table` to refuse."""
    amount, previous_rate = 0.0, None
    for row in rows:
        floor, rate = row["notional_floor"], row["maintenance_rate"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (floor, rate)):
            return
        if previous_rate is not None:
            amount += floor * (rate - previous_rate)
        row["maintenance_amount"] = amount
        previous_rate = rate


def _number(item: Mapping[str, Any], key: str) -> Any:
    value = item.get(key)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _binance_row(item: object) -> dict[str, Any]:
    if not isinstance(item, Mapping):
        raise ConfigError(FIELD, "a Binance bracket must be an object")
    return {
        "notional_floor": _number(item, "notionalFloor"),
        "notional_cap": _number(item, "notionalCap"),
        "maintenance_rate": _number(item, "maintMarginRatio"),
        "maintenance_amount": _number(item, "cum"),
        "max_leverage": _number(item, "initialLeverage"),
    }


def _ccxt_row(item: Mapping[str, Any]) -> dict[str, Any]:
    info = item.get("info")
    cum = _number(info, "cum") if isinstance(info, Mapping) else None
    return {
        "notional_floor": _number(item, "minNotional"),
        "notional_cap": _number(item, "maxNotional"),
        "maintenance_rate": _number(item, "maintenanceMarginRate"),
        "maintenance_amount": cum,
        "max_leverage": _number(item, "maxLeverage"),
    }


def base_symbol(symbol: str) -> str:
    """The perpetual's symbol without a store suffix: `BTCUSDT-PERP` -> `BTCUSDT`."""
    upper = symbol.upper()
    for suffix in PERPETUAL_SUFFIXES:
        if upper.endswith(suffix) and len(upper) > len(suffix):
            return upper[: -len(suffix)]
    return upper


class TierCatalog:
    """The tier tables a run may use: shipped ones and those imported under `data_dir`'s store
    (none when `data_dir` is None). Every call reads the disk afresh."""

    def __init__(self, data_dir: Path | None = None, *, shipped_dir: Path = SHIPPED_DIR) -> None:
        self._store_root = data_dir / "store" if data_dir is not None else None
        self._shipped_dir = shipped_dir

    def shipped(self) -> list[TierTable]:
        """Every shipped table, by symbol then snapshot."""
        return _ordered(read_tier_file(path) for path in self._shipped_dir.glob("*/*.json"))

    def stored(self) -> list[TierTable]:
        """Every imported table, by symbol then snapshot (unreadable files are skipped)."""
        if self._store_root is None:
            return []
        tables = []
        for path in self._store_root.glob(f"*/{TIERS_FOLDER}/*.json"):
            try:
                tables.append(read_tier_file(path))
            except (DataFileError, ConfigError):
                logger.warning("skipping unreadable tier table path=%s", path)
        return _ordered(tables)

    def tables(self) -> list[TierTable]:
        """Imported tables then shipped ones (a name in both is the imported one)."""
        return self.stored() + self.shipped()

    def store(self, table: TierTable) -> Path:
        """Write `table` into the store (no-op when the same brackets and name are there)."""
        if self._store_root is None:
            raise DataFileError("there is no data folder to store tier tables in.", path=Path())
        folder = self._store_root / table.symbol / TIERS_FOLDER
        path = folder / f"{table.latest_day}-{table.sha256[:12]}.json"
        if path.is_file():
            return path
        folder.mkdir(parents=True, exist_ok=True)
        _write_json_atomically(path, table.to_document())
        logger.info("stored tier table name=%s path=%s", table.name, path)
        return path

    def find(self, name: str) -> TierTable:
        """The table called `name` (`binance-usdtm/BTCUSDT@2024-10-01`, or `BTCUSDT` for the
        symbol's latest); TierChoiceError with "did you mean" otherwise."""
        tables = self.tables()
        for table in tables:
            if table.name == name:
                return table
        latest = self._latest(tables, name.strip().upper())
        if latest is not None:
            return latest
        names = [table.name for table in tables]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(names)}"
        raise TierChoiceError(f"there is no tier table {name!r}{hint}")

    def default_for(self, symbol: str) -> TierChoice:
        """The symbol's latest imported table, else its latest shipped one, else BTCUSDT's
        latest shipped table standing in (said in the label)."""
        wanted = base_symbol(symbol)
        stored = self._latest(self.stored(), wanted)
        if stored is not None:
            return TierChoice(stored, "stored", stored.label())
        shipped = self.shipped()
        own = self._latest(shipped, wanted)
        if own is not None:
            return TierChoice(own, "shipped", own.label())
        stand_in = self._latest(shipped, FALLBACK_SYMBOL)
        if stand_in is None:
            raise TierChoiceError(f"there is no tier table for {symbol} and none to stand in")
        label = f"{stand_in.label()} standing in for {symbol}, which has no table"
        return TierChoice(stand_in, "fallback", label)

    def choose(self, request: object, symbol: str) -> TierChoice:
        """A run's table from what it asked for: None (the symbol's default), a table name, a
        Path to a table file, or an inline table document (a mapping)."""
        if request is None or request == "":
            return self.default_for(symbol)
        if isinstance(request, Path):
            try:
                table = read_tier_file(request)
            except DataFileError as error:
                raise TierChoiceError(str(error)) from None
            return TierChoice(table, "file", table.label())
        if isinstance(request, Mapping):
            table = parse_tier_table(request, where="the inline tier table")
            return TierChoice(table, "inline", table.label())
        if isinstance(request, str):
            table = self.find(request)
            return TierChoice(table, "named", table.label())
        raise TierChoiceError("must be a table name, a table file or a table document")

    @staticmethod
    def _latest(tables: Sequence[TierTable], symbol: str) -> TierTable | None:
        own = [table for table in tables if table.symbol == symbol]
        return max(own, key=lambda table: table.latest_day) if own else None


def _ordered(tables: Any) -> list[TierTable]:
    return sorted(tables, key=lambda table: (table.symbol, table.latest_day, table.exchange))


def _write_json_atomically(path: Path, document: Mapping[str, Any]) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        json.dump(document, stream, indent=2)
        stream.write("\n")
    Path(temporary).chmod(0o644)
    Path(temporary).replace(path)
