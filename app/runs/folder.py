"""A run's output folder: trades.csv, orders.csv, equity.csv, metrics.json, log.txt and
provenance.json, written byte-for-byte the same for the same run.

Columns are formatted a whole column at a time: times as a calendar day's text plus a time of
day's text (each computed once per distinct day and second of the day), numbers as Python's
shortest round-tripping `repr`, computed once per run of equal values (an equity curve repeats
its cash, margin and position for long stretches) or once per distinct value. equity.csv, one
row per bar, is formatted and written a block of rows at a time, so the text of the whole curve
never sits in memory. The bytes are those a per-row `csv.writer` would write;
`tests/test_artifacts.py` keeps that per-row writer as the reference.
"""

from __future__ import annotations

import csv
import importlib
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from app import strict_json
from app.engine import RunResult, ns_to_iso
from app.engine.logbook import dropped_note

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "side",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "fees",
    "exit_reason",
)
# After TRADE_COLUMNS in trades.csv (readers that need only those read them as a prefix): the
# slice's leverage (size x entry price / margin) and its margin put up at entry, quote units.
TRADE_MARGIN_COLUMNS = ("leverage", "margin")
# Last in trades.csv and orders.csv of a run over several symbols (a run over one symbol's
# files are as before: its symbol is the run's, in provenance.json): the traded symbol.
SYMBOL_COLUMN = "symbol"
ORDER_COLUMNS = (
    "id",
    "created_time",
    "side",
    "type",
    "amount",
    "limit_price",
    "stop_price",
    "leverage",
    "stop_loss",
    "take_profit",
    "status",
    "filled_time",
    "filled_price",
    "filled_amount",
    "fee",
    "reason",
)
EQUITY_COLUMNS = ("time", "cash", "margin", "unrealized_pnl", "equity", "position")
TIME_METRICS = ("start", "end")
RUN_FILES = ("trades.csv", "orders.csv", "equity.csv", "metrics.json", "log.txt", "provenance.json")

# Below this share of distinct values, formatting the distinct values and gathering is cheaper.
_DISTINCT_SHARE = 0.5
_SHORT_COLUMN = 64  # values formatted one by one without looking for repeats
_SAMPLE_SIZE = 1_024  # values looked at to guess whether a column has few distinct values
_NAT = np.iinfo(np.int64).min
_DAY_NS = 86_400 * 1_000_000_000
_SECOND_NS = 1_000_000_000
EQUITY_BLOCK_ROWS = 16_384  # rows of equity.csv formatted and written at a time
RECORD_BLOCK_ROWS = 16_384  # rows of trades.csv and orders.csv formatted and written at a time


def format_times(ns: npt.ArrayLike) -> list[str]:
    """Epoch nanoseconds (UTC) as `2024-01-01T00:00:00Z`, like `ns_to_iso`, for a whole column.

    Sub-second parts are floored, as `ns_to_iso` does (numpy's unit cast floors too). The text
    is the day's (`2024-01-01T`) joined to the second of the day's (`00:00:00Z`), each formatted
    once per distinct value: a year of minute bars has 365 days and 1,440 minutes of the day.
    """
    stamps = np.asarray(ns, dtype=np.int64)
    parts = _time_parts(stamps)
    if parts is None:
        return _times_one_by_one(stamps)
    day_part, day_of, second_part, second_of = parts
    joined: list[str] = (day_part[day_of] + second_part[second_of]).tolist()
    return joined


def _time_parts(
    stamps: npt.NDArray[np.int64], second_suffix: str = ""
) -> (
    tuple[
        npt.NDArray[np.object_], npt.NDArray[np.intp], npt.NDArray[np.object_], npt.NDArray[np.intp]
    ]
    | None
):
    """The distinct day texts (`2024-01-01T`) and second-of-day texts (`00:00:00Z` followed by
    `second_suffix`) of `stamps`, with each stamp's index into both; None for a column too
    short to repay the bookkeeping or holding numpy's NaT (int64's least value, never a bar
    time, which numpy prints as "NaT"): format those one by one."""
    if stamps.size <= _SHORT_COLUMN or stamps.min() == _NAT:
        return None
    days = stamps // _DAY_NS  # floor division: the day of a time before 1970 too
    seconds = (stamps - days * _DAY_NS) // _SECOND_NS  # 0 .. 86,399
    distinct_days, day_of = _distinct(days)
    distinct_seconds, second_of = _distinct(seconds)
    day_texts = np.datetime_as_string(distinct_days.astype("datetime64[D]"), unit="D").tolist()
    day_part = np.array([f"{text}T" for text in day_texts], dtype=object)
    texts = _SECOND_TEXTS.setdefault(second_suffix, {})
    second_part = np.array(
        [texts.get(s) or _second_text(texts, s, second_suffix) for s in distinct_seconds.tolist()],
        dtype=object,
    )
    return day_part, day_of, second_part, second_of


_SECOND_TEXTS: dict[str, dict[int, str]] = {}
"""Second-of-day texts by suffix, formatted once per process: every block of minute bars has
the same 1,440 (at most 86,400 per suffix, ~6 MB)."""


def _second_text(texts: dict[int, str], second: int, suffix: str) -> str:
    text = f"{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z{suffix}"
    texts[second] = text
    return text


def _distinct(values: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """`np.unique(values, return_inverse=True)`, without its sort when the values span a
    range at most a few times their number (the days and seconds of a block of bars): a
    table over the range marks which occur and numbers them in order."""
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if span > 4 * values.size + 86_400:
        distinct, inverse = np.unique(values, return_inverse=True)
        return distinct, inverse
    offsets = values - low
    present = np.zeros(span, dtype=bool)
    present[offsets] = True
    occurring = np.flatnonzero(present)
    number = np.empty(span, dtype=np.intp)
    number[occurring] = np.arange(occurring.size)
    return occurring + low, number[offsets]


def _times_one_by_one(stamps: npt.NDArray[np.int64]) -> list[str]:
    seconds_only = stamps.astype("datetime64[ns]").astype("datetime64[s]")
    return [f"{text}Z" for text in np.datetime_as_string(seconds_only, unit="s").tolist()]


def format_optional_times(
    values: Sequence[int | None] | npt.NDArray[np.int64], missing: npt.ArrayLike | None = None
) -> list[str]:
    """`format_times` with None as an empty field: `values` holding None, or an int64
    column with its mask of the Nones (`missing`, True where None)."""
    stamps, gone = _present(values, missing, np.int64)
    if gone is None:
        return format_times(stamps)
    return _with_blanks(format_times(stamps[~gone]), gone)


def _present(
    values: Sequence[float | None] | npt.NDArray[Any],
    missing: npt.ArrayLike | None,
    dtype: type[np.generic],
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_] | None]:
    """`values` as an array of `dtype` and the mask of its Nones (None when there are none):
    from `missing` when given, else from the None items of a sequence (0 in their place)."""
    if missing is not None:
        gone = np.asarray(missing, dtype=np.bool_)
        return np.asarray(values, dtype=dtype), gone if gone.any() else None
    if isinstance(values, np.ndarray) or None not in values:
        return np.asarray(values, dtype=dtype), None
    gone = np.fromiter((value is None for value in values), dtype=np.bool_, count=len(values))
    return np.array([0 if value is None else value for value in values], dtype=dtype), gone


def _with_blanks(texts: list[str], missing: npt.NDArray[np.bool_]) -> list[str]:
    """`texts` (one per present value) spread over the rows, "" where `missing`."""
    cells = np.full(len(missing), "", dtype=object)
    cells[~missing] = texts
    spread: list[str] = cells.tolist()
    return spread


def format_numbers(values: npt.ArrayLike) -> list[str]:
    """Floats as `repr(float(x))` (shortest text that reads back to the same float).

    Equal values are told apart by bit pattern (0.0 and -0.0 print differently). A column of
    long runs of one value (cash, margin, position) formats each run once; otherwise, when a
    sample shows few distinct values, each distinct value once; otherwise every value."""
    column = np.ascontiguousarray(values, dtype=np.float64)
    size = column.size
    if size <= _SHORT_COLUMN:  # too few to repay the run or distinct-value bookkeeping
        return list(map(float.__repr__, column.tolist()))
    bits = column.view(np.int64)
    run_starts = np.flatnonzero(bits[1:] != bits[:-1]) + 1
    if run_starts.size + 1 <= _DISTINCT_SHARE * size:
        firsts = np.concatenate(([0], run_starts))
        texts = np.array(float_reprs(column[firsts]), dtype=object)
        repeated: list[str] = np.repeat(texts, np.diff(firsts, append=size)).tolist()
        return repeated
    sample = bits[:: max(1, size // _SAMPLE_SIZE)]
    if np.unique(sample).size > _DISTINCT_SHARE * sample.size:
        return float_reprs(column)
    distinct, positions = np.unique(bits, return_inverse=True)
    if distinct.size > _DISTINCT_SHARE * size:
        return float_reprs(column)
    texts = np.array(float_reprs(distinct.view(np.float64)), dtype=object)
    result: list[str] = texts[positions].tolist()
    return result


_PLAIN_REPR_FROM = 1e-4
"""Python's repr writes a finite float of at least this magnitude (or a zero) exactly as
orjson does: the same shortest round-tripping digits, and the same notation (plain, or
`1e+16` style from 1e16 up). Below it the two notations differ (`1e-05` against `0.00001`,
`1e-07` against `1e-7`), so those values, and NaN and the infinities, get repr itself."""


def _fast_printer() -> ModuleType | None:
    """orjson when it is installed (it prints floats at C speed), None otherwise."""
    try:
        return importlib.import_module("orjson")
    except ImportError:
        return None


_ORJSON = _fast_printer()


def float_reprs(column: npt.NDArray[np.float64]) -> list[str]:
    """`repr(float(x))` of each value of a contiguous float64 column.

    orjson (when installed) prints a whole column's shortest digits at C speed, about 7x
    faster than one `repr` call per value (1,000,000 equity values: ~1.2 s), and gives the
    same text wherever repr's notation and its agree (see _PLAIN_REPR_FROM); every other value
    is printed by repr. Without orjson, repr prints them all."""
    printer = _ORJSON
    if printer is None or column.size == 0:
        return list(map(float.__repr__, column.tolist()))  # map: ~2x a comprehension's speed
    printed: bytes = printer.dumps(column, option=printer.OPT_SERIALIZE_NUMPY)
    texts = printed[1:-1].decode().split(",")
    with np.errstate(invalid="ignore"):
        is_repr_only = ~(np.abs(column) >= _PLAIN_REPR_FROM) & (column != 0.0)
    is_repr_only |= ~np.isfinite(column)
    for at in np.flatnonzero(is_repr_only).tolist():
        texts[at] = float.__repr__(float(column[at]))
    return texts


def format_optional_numbers(
    values: Sequence[float | None] | npt.NDArray[np.float64], missing: npt.ArrayLike | None = None
) -> list[str]:
    """`format_numbers` with None as an empty field: `values` holding None, or a float64
    column with its mask of the Nones (`missing`, True where None)."""
    numbers, gone = _present(values, missing, np.float64)
    if gone is None:
        return format_numbers(numbers)
    return _with_blanks(format_numbers(numbers[~gone]), gone)


def trade_columns(result: RunResult, start: int = 0, stop: int | None = None) -> list[list[str]]:
    """trades.csv's first columns (TRADE_COLUMNS) as text, for trades `start:stop` (all by
    default), formatted from the trade table's columns."""
    trades = result.trades[start:stop]
    return [
        format_times(trades.values("entry_time")),
        format_times(trades.values("exit_time")),
        trades.texts("side"),
        *(format_numbers(trades.values(name)) for name in TRADE_NUMBERS),
        trades.texts("exit_reason"),
    ]


TRADE_NUMBERS = ("size", "entry_price", "exit_price", "pnl", "fees")
"""trades.csv's number columns between `side` and `exit_reason`, named as Trade's fields."""


def trade_margin_columns(
    result: RunResult, start: int = 0, stop: int | None = None
) -> list[list[str]]:
    """TRADE_MARGIN_COLUMNS as text, for trades `start:stop`; a trade without a recorded
    margin has both empty."""
    trades = result.trades[start:stop]
    margins = trades.values("margin")
    notionals = trades.values("size") * trades.values("entry_price")
    known = margins > 0.0
    leverage = np.divide(notionals, margins, out=np.zeros_like(margins), where=known)
    return [_known_only(leverage, known), _known_only(margins, known)]


def _known_only(values: npt.NDArray[np.float64], known: npt.NDArray[np.bool_]) -> list[str]:
    texts = format_numbers(values)
    return [text if is_known else "" for text, is_known in zip(texts, known.tolist(), strict=True)]


ORDER_TEXTS = frozenset({"side", "type", "status", "reason"})
ORDER_TIMES = frozenset({"created_time", "filled_time"})


def order_columns(result: RunResult, start: int = 0, stop: int | None = None) -> list[list[str]]:
    """orders.csv's columns (ORDER_COLUMNS) as text, for orders `start:stop` (all by default),
    formatted from the order table's columns; None is an empty field."""
    orders = result.orders[start:stop]
    columns: list[list[str]] = []
    for name in ORDER_COLUMNS:
        if name in ORDER_TEXTS:
            columns.append(orders.texts(name))
        elif name == "id":
            columns.append(list(map(str, orders.values(name).tolist())))
        elif name in ORDER_TIMES:
            columns.append(format_optional_times(orders.values(name), orders.is_missing(name)))
        else:
            columns.append(format_optional_numbers(orders.values(name), orders.is_missing(name)))
    return columns


def equity_columns(result: RunResult, start: int = 0, stop: int | None = None) -> list[list[str]]:
    """equity.csv's columns as text, for the curve's rows `start:stop` (all by default)."""
    curve = result.equity
    rows = slice(start, stop)
    return [
        format_times(curve.time[rows]),
        *(
            format_numbers(column[rows])
            for column in (curve.cash, curve.margin, curve.unrealized, curve.equity, curve.position)
        ),
    ]


_QUOTED_CHARACTERS = (",", '"', "\r", "\n")
"""What makes `csv.writer` (QUOTE_MINIMAL) quote a field: the delimiter, the quote, a line end."""


def _write_csv(
    path: Path, header: Sequence[str], rows: int, columns_of: Callable[[int, int], list[list[str]]]
) -> None:
    """A CSV of `rows` rows whose columns `columns_of(start, stop)` formats as text for rows
    `start:stop`, RECORD_BLOCK_ROWS rows at a time (the text of 100,000 orders' rows, as
    Python strings, is ~50 MB; a block's is ~8 MB).

    Rows are quoted as `csv.writer` quotes them (fields with commas, quotes or newlines).
    When no field of a block needs quoting (numbers, times and the engine's own words; a
    strategy's log text in an order's reason may), its rows are joined directly: the same
    bytes, ~4x faster."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for start in range(0, rows, RECORD_BLOCK_ROWS):
            columns = columns_of(start, start + RECORD_BLOCK_ROWS)
            if any(_needs_quoting(column) for column in columns) or len(columns) < 2:
                writer.writerows(zip(*columns, strict=True))
            elif columns[0]:
                handle.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")
            del columns


def _needs_quoting(column: list[str]) -> bool:
    text = "".join(column)
    return any(character in text for character in _QUOTED_CHARACTERS)


def write_equity_csv(path: Path, result: RunResult) -> None:
    """equity.csv, EQUITY_BLOCK_ROWS rows at a time, so the whole curve's text never sits in
    memory. Its fields (times and numbers) never need quoting: rows are joined directly, the
    bytes `csv.writer` would write (the bytes of `equity_columns` joined by commas).

    A row is joined from shared texts wherever the values repeat, so that only the unrealized
    PnL and the equity, which change every bar a position is open, are new strings per row:
    the day (`2024-01-01T`) and the second of the day with its comma (`00:00:00Z,`) from
    their distinct values, and `cash,margin,` and `,position` once per run of bars that
    share all three (they change only at fills and funding). With the second-of-day texts
    formatted once per process (_SECOND_TEXTS) and the distinct days and seconds found
    without a sort (_distinct), the SMA benchmark's 525,601 rows take ~0.35 s against ~0.45 s
    for six fields joined per row (docs/performance.md)."""
    curve = result.equity
    rows = len(curve.time)
    with path.open("w", newline="", encoding="utf-8") as handle:
        handle.write(",".join(EQUITY_COLUMNS) + "\n")
        for start in range(0, rows, EQUITY_BLOCK_ROWS):
            block = slice(start, start + EQUITY_BLOCK_ROWS)
            stamps = np.ascontiguousarray(curve.time[block], dtype=np.int64)
            parts = _time_parts(stamps, second_suffix=",")
            if parts is None:  # a short block, or one holding NaT: six fields per row
                columns = equity_columns(result, start, start + EQUITY_BLOCK_ROWS)
                handle.write("\n".join(map(",".join, zip(*columns, strict=True))) + "\n")
                continue
            day_part, day_of, second_part, second_of = parts
            prefix, suffix = _account_run_texts(
                curve.cash[block], curve.margin[block], curve.position[block]
            )
            fields = (
                day_part[day_of].tolist(),
                second_part[second_of].tolist(),
                prefix,
                format_numbers(curve.unrealized[block]),
                [","] * len(stamps),
                format_numbers(curve.equity[block]),
                suffix,
            )
            handle.write("\n".join(map("".join, zip(*fields, strict=True))) + "\n")


def _account_run_texts(
    cash: npt.NDArray[np.float64],
    margin: npt.NDArray[np.float64],
    position: npt.NDArray[np.float64],
) -> tuple[list[str], list[str]]:
    """Each row's `cash,margin,` and `,position` texts (repr of each value), formatted once
    per run of rows where all three keep the same bits and shared by the run's rows (more
    than _SHORT_COLUMN rows)."""
    size = cash.size
    columns = [
        np.ascontiguousarray(column, dtype=np.float64) for column in (cash, margin, position)
    ]
    changed = np.zeros(size - 1, dtype=bool)
    for column in columns:
        bits = column.view(np.int64)
        changed |= bits[1:] != bits[:-1]
    firsts = np.concatenate(([0], np.flatnonzero(changed) + 1))
    cash_texts, margin_texts, position_texts = (float_reprs(column[firsts]) for column in columns)
    lengths = np.diff(firsts, append=size)
    prefixes = np.array(
        [f"{c},{m}," for c, m in zip(cash_texts, margin_texts, strict=True)], dtype=object
    )
    suffixes = np.array([f",{p}" for p in position_texts], dtype=object)
    return np.repeat(prefixes, lengths).tolist(), np.repeat(suffixes, lengths).tolist()


def metrics_document(result: RunResult) -> dict[str, Any]:
    """metrics.json: the figures plus the conventions they were computed with."""
    figures: dict[str, Any] = {}
    for name, value in result.metrics.items():
        if name in TIME_METRICS and isinstance(value, int):
            figures[name] = ns_to_iso(value)
        elif isinstance(value, float) and not math.isfinite(value):
            figures[name] = None
        else:
            figures[name] = value
    return {
        "metrics": figures,
        "conventions": {
            "daily_returns": "changes between consecutive UTC day-end equities",
            "annualisation_days": result.config.trading_days_per_year,
            "sharpe": "mean / sample std (ddof=1) x sqrt(annualisation_days)",
            "sortino": "downside deviation = RMS of min(return, 0) over all days",
            "max_drawdown": "bar-by-bar marked-to-market equity",
            "risk_free_rate": result.config.risk_free_rate,
            "price_source": result.price_source,
        },
        **symbols_document(result),
    }


def symbols_document(result: RunResult) -> dict[str, Any]:
    """metrics.json's `symbols` of a run over several symbols: each symbol's trades, net
    PnL (after fees, before funding), fees, funding and liquidations; nothing for one symbol."""
    if not result.symbols:
        return {}
    return {
        "symbols": {
            summary.symbol: {
                "trades": summary.trades,
                "winning_trades": summary.winning_trades,
                "net_pnl": summary.net_pnl,
                "fees_paid": summary.fees_paid,
                "funding_paid": summary.funding_paid,
                "liquidations": summary.liquidations,
            }
            for summary in result.symbols
        }
    }


def log_lines(result: RunResult) -> Iterable[str]:
    times = format_times([line.time for line in result.logs])
    for time, line in zip(times, result.logs, strict=True):
        yield f"{time} bar={line.bar_index} {line.level.value}: {line.message}"
    if result.logs_dropped:
        yield dropped_note(result.logs_dropped, len(result.logs), result.config)


def read_symbols(path: Path, offset: int, limit: int) -> list[str]:
    """The `symbol` of trades.csv's (or orders.csv's) rows `offset` .. `offset + limit`; empty
    for a file without the column (a run over one symbol, or stored before runs had several)
    or a missing or unreadable file."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if SYMBOL_COLUMN not in header:
                return []
            column = header.index(SYMBOL_COLUMN)
            symbols: list[str] = []
            for number, row in enumerate(reader):
                if number >= offset + limit:
                    break
                if number >= offset:
                    symbols.append(row[column] if column < len(row) else "")
            return symbols
    except (OSError, UnicodeError, csv.Error):
        return []


def read_trade_margins(path: Path, offset: int, limit: int) -> list[float | None]:
    """The `margin` of trades.csv's rows `offset` .. `offset + limit` (closing order), None
    where the run recorded none: a file without the column (written before margins were kept),
    a missing file, or an empty field."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            header = next(reader, [])
            if "margin" not in header:
                return []
            column = header.index("margin")
            margins: list[float | None] = []
            for number, row in enumerate(reader):
                if number >= offset + limit:
                    break
                if number >= offset:
                    margins.append(_positive_or_none(row[column] if column < len(row) else ""))
            return margins
    except (OSError, UnicodeError, csv.Error):
        return []


def _positive_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0.0 else None


class RunFolderIncomplete(OSError):  # noqa: N818  (named for what happened)
    """Some of a run's files could not be written; the others were. An OSError, so callers
    that report a folder they cannot write report this too; `strerror` is one sentence."""

    def __init__(self, out_dir: Path, failed: dict[str, str], written: list[Path]) -> None:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in failed.items())
        sentence = (
            f"{len(failed)} of {len(RUN_FILES)} files could not be written ({reasons}); "
            f"the other {len(written)} were"
        )
        super().__init__(sentence)
        self.strerror = sentence
        self.filename = str(out_dir)
        self.failed = failed
        self.written = written


def write_run_folder(result: RunResult, out_dir: Path, provenance: dict[str, Any]) -> list[Path]:
    """Write every output file of a run into `out_dir` (created if needed).

    Each file is written on its own: when one cannot be (a full disk, a name taken by a
    folder, text a codec refuses), the rest still are, then RunFolderIncomplete names the
    missing ones and why.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    symbol: tuple[str, ...] = (SYMBOL_COLUMN,) if result.symbols else ()
    writers: dict[str, Callable[[Path], object]] = {
        "trades.csv": lambda path: _write_csv(
            path,
            TRADE_COLUMNS + TRADE_MARGIN_COLUMNS + symbol,
            len(result.trades),
            lambda start, stop: (
                trade_columns(result, start, stop)
                + trade_margin_columns(result, start, stop)
                + ([result.trades[start:stop].texts("symbol")] if symbol else [])
            ),
        ),
        "orders.csv": lambda path: _write_csv(
            path,
            ORDER_COLUMNS + symbol,
            len(result.orders),
            lambda start, stop: (
                order_columns(result, start, stop)
                + ([result.orders[start:stop].texts("symbol")] if symbol else [])
            ),
        ),
        "equity.csv": lambda path: write_equity_csv(path, result),
        "metrics.json": lambda path: path.write_text(
            strict_json.dumps(metrics_document(result), indent=2, sort_keys=False) + "\n",
            encoding="utf-8",
        ),
        "log.txt": lambda path: path.write_text(
            "".join(f"{line}\n" for line in log_lines(result)), encoding="utf-8"
        ),
        "provenance.json": lambda path: path.write_text(
            strict_json.dumps(provenance, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        ),
    }
    written: list[Path] = []
    failed: dict[str, str] = {}
    for name in RUN_FILES:
        try:
            writers[name](out_dir / name)
        except (OSError, UnicodeError) as error:
            failed[name] = (
                error.strerror or str(error) if isinstance(error, OSError) else str(error)
            )
        else:
            written.append(out_dir / name)
    if failed:
        raise RunFolderIncomplete(out_dir, failed, written)
    return written
