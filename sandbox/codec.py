"""Run inputs and results as protocol messages and back, every incoming field checked.

Worker text arrives already cleaned by the protocol reader (`sandbox.text`: valid, printable,
one line, at most MAX_TEXT_CHARS); here each field is also held to its own cap: names to
MAX_NAME_CHARS, a record's text (a log message, an order's reason) to RECORD_TEXT_CHARS.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from app.engine import (
    AccountMarks,
    LogLine,
    MarketData,
    OrderRecord,
    Progress,
    RunConfig,
    RunRecord,
    RunResult,
    SymbolTotals,
    Trade,
    summarize,
)
from app.engine.errors import IndicatorError
from app.engine.indicator_settings import check_settings, plain_name, plain_settings
from app.engine.loop import PROGRESS_LOG_LINES, PROGRESS_STAGES
from app.engine.record_tables import ColumnKind, FieldSpec, RecordTable, field_specs
from app.engine.results import IndicatorSetting, OrderTable, TradeTable
from sandbox.errors import ProtocolError
from sandbox.text import MAX_NAME_CHARS, MAX_TEXT_CHARS, clean_text

MARKET_ARRAYS: Final = (
    "time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "funding_times",
    "funding_rates",
    "mark_open",
    "mark_high",
    "mark_low",
    "mark_close",
)
MAX_INDICATOR_SETTINGS: Final = 32
"""Indicators of a result drawn on its charts (the first ones declared; a run may use more)."""
MAX_INDICATOR_COUNT: Final = 1_000_000
"""Largest indicator count a progress report may name (a run computes far fewer)."""
RECORD_TEXT_CHARS: Final = 4_000
"""Longest text of one record (the engine cuts log messages at `max_log_line_chars`, at most
2,000, itself; this bound holds for a worker that does not)."""
MAX_MAGNITUDE: Final = 1e30
"""Largest magnitude of a price, amount, sum of money or fee the worker may report as an
outcome (fills, trades, the account marks, fees and funding, the live equity). No market comes
near it (a run starts with at most 1e12 of cash at most 125x; a 1e-10 price buys 1.25e24
units), and a product or square of two such numbers (1e60) stays far inside a float, so the
parent's own equity and metric arithmetic cannot overflow. What a strategy *asked* for (an
order's amount, limit, stop, leverage, stop-loss, take-profit) is kept as the engine recorded
it: an honest run may ask for 1e300 units and be refused."""
REQUESTED_FIELDS: Final = frozenset(
    {"amount", "limit_price", "stop_price", "leverage", "stop_loss", "take_profit"}
)
"""OrderRecord fields holding what the strategy asked for: only finite, not bounded."""


# -------------------------------------------------------------------------------------------
# parent -> worker (trusted direction, still plain data)
# -------------------------------------------------------------------------------------------


def market_arrays(market: MarketData) -> dict[str, npt.NDArray[Any]]:
    """The market's arrays by name, for the job frame; a run over several symbols adds each
    further symbol's as `symbol<k>.<name>` (their symbols: `market_symbols`)."""
    arrays = {name: getattr(market, name) for name in MARKET_ARRAYS}
    for k, other in enumerate(market.other_symbols):
        arrays.update({f"symbol{k}.{name}": getattr(other, name) for name in MARKET_ARRAYS})
    return arrays


def market_symbols(market: MarketData) -> dict[str, Any]:
    """The job body's description of the market beside its arrays: the symbols (the
    primary's first) and the bar times the alignment of several symbols dropped."""
    return {
        "symbol": market.symbol,
        "other_symbols": [other.symbol for other in market.other_symbols],
        "bars_dropped": market.bars_dropped,
    }


def market_from_arrays(
    arrays: Mapping[str, npt.NDArray[Any]],
    symbol: str,
    other_symbols: Sequence[str] = (),
    bars_dropped: int = 0,
) -> MarketData:
    """Rebuild MarketData in the worker (its own validation runs again), with the further
    symbols `other_symbols` of a run over several."""
    others = tuple(
        MarketData(symbol=str(name), **_market_columns(arrays, f"symbol{k}."))
        for k, name in enumerate(other_symbols)
    )
    return MarketData(
        symbol=symbol,
        other_symbols=others,
        bars_dropped=int(bars_dropped),
        **_market_columns(arrays, ""),
    )


def _market_columns(arrays: Mapping[str, npt.NDArray[Any]], prefix: str) -> dict[str, Any]:
    missing = [name for name in MARKET_ARRAYS if prefix + name not in arrays]
    if missing:
        raise ProtocolError(f"job is missing arrays: {', '.join(prefix + m for m in missing)}")
    return {name: arrays[prefix + name] for name in MARKET_ARRAYS}


def config_to_dict(config: RunConfig) -> dict[str, Any]:
    """RunConfig as JSON-ready data."""
    return config.to_dict()


def config_from_dict(data: Mapping[str, Any]) -> RunConfig:
    """RunConfig from `config_to_dict` output (the config reads its own versioned format)."""
    return RunConfig.from_dict(data)


# -------------------------------------------------------------------------------------------
# worker -> parent (untrusted: every value is type-checked)
# -------------------------------------------------------------------------------------------


Record = type[tuple[Any, ...]]  # an engine record class: a NamedTuple (Trade, OrderRecord, ...)


def _refuse(name: str) -> ProtocolError:
    return ProtocolError(f"field '{name}' has an invalid value")


def _beyond(name: str) -> ProtocolError:
    return ProtocolError(
        f"field '{name}' has a value beyond {MAX_MAGNITUDE:g} in magnitude, which no market has"
    )


def _check_magnitude(values: npt.NDArray[np.float64], name: str) -> None:
    """ProtocolError when a finite (or NaN) column holds a number beyond MAX_MAGNITUDE."""
    if np.any(np.abs(values) > MAX_MAGNITUDE):  # NaN compares False: None stays allowed
        raise _beyond(name)


def _scalar(value: object, kind: type[int] | type[float] | type[str], name: str) -> Any:
    """One JSON value of a message, checked: an int, a number (as float) or bounded text."""
    if kind is int and type(value) is int:
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an int of hundreds of digits
            raise _refuse(name) from None
        if math.isfinite(number):
            if abs(number) > MAX_MAGNITUDE:
                raise _beyond(name)
            return number
    if kind is str and isinstance(value, str):
        return clean_text(value, MAX_TEXT_CHARS)
    raise _refuse(name)


def progress_body(
    progress: Progress, trades: Sequence[Trade] = (), orders: Sequence[OrderRecord] = ()
) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """A `progress` message: the report's numbers and new log lines, plus `trades` and
    `orders` (records the worker batched since it last sent any) as typed arrays."""
    log_texts, log_arrays = records_to_arrays("logs", LogLine, progress.logs)
    body: dict[str, Any] = {
        "type": "progress",
        "progress": [progress.bars_done, progress.bars_total, progress.time, progress.equity],
        "logs": log_texts,
        "stage": progress.stage,
    }
    if progress.stage == "indicators":
        body["indicators"] = [progress.indicators_done, progress.indicators_total]
    if not trades and not orders:
        return body, log_arrays
    body["trades"], trade_arrays = records_to_arrays("trades", Trade, trades)
    body["orders"], order_arrays = records_to_arrays("orders", OrderRecord, orders)
    return body, {**log_arrays, **trade_arrays, **order_arrays}


def progress_from_frame(
    body: Mapping[str, Any], arrays: Mapping[str, npt.NDArray[Any]]
) -> Progress:
    """A Progress event from an untrusted worker message (at most PROGRESS_LOG_LINES lines),
    with the trades and orders it carries, if any, as tables (RecordTable)."""
    values = body.get("progress")
    if not isinstance(values, list) or len(values) != 4:
        raise ProtocolError("progress record has the wrong shape")
    logs = records_from_arrays("logs", LogLine, body.get("logs"), arrays)
    if len(logs) > PROGRESS_LOG_LINES:
        raise ProtocolError("a progress message carries too many log lines")
    has_records = "trades" in body or "orders" in body
    stage = body.get("stage", "running")
    if stage not in PROGRESS_STAGES:  # only the engine's own words reach the viewers
        raise ProtocolError("progress record names an unknown stage")
    done, expected = _indicator_counts(body.get("indicators", [0, 0]))
    return Progress(
        bars_done=_scalar(values[0], int, "bars_done"),
        bars_total=_scalar(values[1], int, "bars_total"),
        time=_scalar(values[2], int, "time"),
        equity=_scalar(values[3], float, "equity"),
        logs=logs,
        trades=table_from_arrays("trades", Trade, body.get("trades"), arrays)
        if has_records
        else (),
        orders=table_from_arrays("orders", OrderRecord, body.get("orders"), arrays)
        if has_records
        else (),
        stage=str(stage),
        indicators_done=done,
        indicators_total=expected,
    )


def _indicator_counts(value: object) -> tuple[int, int]:
    """An "indicators" stage's [done, total]: two ints, 0 <= done <= total."""
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError("progress record's indicator counts have the wrong shape")
    done = _scalar(value[0], int, "indicators_done")
    total = _scalar(value[1], int, "indicators_total")
    if not 0 <= done <= total <= MAX_INDICATOR_COUNT:
        raise ProtocolError("progress record's indicator counts are out of range")
    return done, total


# -------------------------------------------------------------------------------------------
# the run's record: typed array columns, derived results computed by the parent
# -------------------------------------------------------------------------------------------

NONE_MASK: Final = ".none"  # suffix of the i8 0/1 array marking None in an optional int column


def records_to_arrays(
    prefix: str, cls: Record, records: Sequence[Any]
) -> tuple[dict[str, list[str]], dict[str, npt.NDArray[Any]]]:
    """Engine records as columns: numbers and enum codes as typed arrays (`prefix.field`), text
    as JSON lists. None is NaN in an optional float column, a mask array for an optional int.
    A RecordTable's columns are sent as they are."""
    if isinstance(records, RecordTable):
        if records.record_type is not cls:
            raise TypeError(f"a table of {records.record_type.__name__}, not of {cls.__name__}")
        return _table_to_arrays(prefix, records)
    specs = field_specs(cls)
    columns = list(zip(*records, strict=True)) if records else [() for _ in specs]
    texts: dict[str, list[str]] = {}
    arrays: dict[str, npt.NDArray[Any]] = {}
    for spec, values in zip(specs, columns, strict=True):
        key = f"{prefix}.{spec.name}"
        kind = spec.kind
        if kind == "text":
            texts[spec.name] = list(values)
        elif kind == "enum":
            codes = {member: code for code, member in enumerate(spec.members)}
            arrays[key] = np.array(list(map(codes.__getitem__, values)), dtype=np.int64)
        elif kind == "optional_float":
            present = [math.nan if v is None else v for v in values] if None in values else values
            arrays[key] = np.array(present, dtype=np.float64)
        elif kind == "optional_int":
            is_none = [v is None for v in values]
            arrays[key] = np.array([0 if v is None else v for v in values], dtype=np.int64)
            arrays[key + NONE_MASK] = np.array(is_none, dtype=np.int64)
        else:
            arrays[key] = np.array(values, dtype=np.int64 if kind == "int" else np.float64)
    return texts, arrays


def _table_to_arrays(
    prefix: str, table: RecordTable[tuple[Any, ...]]
) -> tuple[dict[str, list[str]], dict[str, npt.NDArray[Any]]]:
    """`records_to_arrays` of a table: its columns (NaN put in an optional float's Nones)."""
    texts: dict[str, list[str]] = {}
    arrays: dict[str, npt.NDArray[Any]] = {}
    for spec in field_specs(table.record_type):
        key = f"{prefix}.{spec.name}"
        if spec.kind == "text":
            texts[spec.name] = table.texts(spec.name)
        elif spec.kind == "optional_float":
            arrays[key] = np.where(table.is_missing(spec.name), math.nan, table.values(spec.name))
        elif spec.kind == "optional_int":
            arrays[key] = table.values(spec.name)
            arrays[key + NONE_MASK] = table.is_missing(spec.name).astype(np.int64)
        else:
            arrays[key] = table.values(spec.name)
    return texts, arrays


def records_from_arrays(
    prefix: str,
    cls: Record,
    texts: object,
    arrays: Mapping[str, npt.NDArray[Any]],
) -> tuple[Any, ...]:
    """Records of `cls` from untrusted `records_to_arrays` output, made as Python records (the
    checks of `table_from_arrays`)."""
    return table_from_arrays(prefix, cls, texts, arrays).records()


def table_from_arrays[R: tuple[Any, ...]](
    prefix: str,
    cls: type[R],
    texts: object,
    arrays: Mapping[str, npt.NDArray[Any]],
) -> RecordTable[R]:
    """The RecordTable of `cls` from untrusted `records_to_arrays` output, its columns kept
    as the frame's arrays (no Python object per record): shapes, dtypes, codes, numbers and
    text are checked a whole column at a time; ProtocolError on the first that fails."""
    specs = field_specs(cls)
    text_names = {spec.name for spec in specs if spec.kind == "text"}
    if not isinstance(texts, dict) or set(texts) != text_names:
        raise ProtocolError(f"{cls.__name__} text columns do not match its fields")
    values: dict[str, npt.NDArray[Any]] = {}
    missing: dict[str, npt.NDArray[np.bool_]] = {}
    column_texts: dict[str, list[str]] = {}
    for spec in specs:
        if spec.kind == "text":
            column_texts[spec.name] = _checked_texts(texts[spec.name], spec.name)
            continue
        values[spec.name], mask = _checked_column(arrays, f"{prefix}.{spec.name}", spec)
        if mask is not None:
            missing[spec.name] = mask
    lengths = {len(column) for column in values.values()}
    lengths |= {len(column) for column in column_texts.values()}
    if len(lengths) > 1:
        raise ProtocolError(f"{cls.__name__} columns differ in length")
    return RecordTable.from_columns(cls, values, missing, column_texts)


def _checked_column(
    arrays: Mapping[str, npt.NDArray[Any]], key: str, spec: FieldSpec
) -> tuple[npt.NDArray[Any], npt.NDArray[np.bool_] | None]:
    """One number or enum column, checked whole: (its values or codes, its mask of the
    Nones for an optional field)."""
    values = _array(arrays, key)
    if values.ndim != 1:
        raise _refuse(key)
    if spec.kind == "enum":
        if values.dtype != np.int64 or (
            len(values) and (values.min() < 0 or values.max() >= len(spec.members))
        ):
            raise _refuse(key)
        return values, None
    if spec.kind == "optional_int":
        flags = _array(arrays, key + NONE_MASK)
        if (
            values.dtype != np.int64
            or flags.dtype != np.int64
            or len(flags) != len(values)
            or not np.isin(flags, (0, 1)).all()
        ):
            raise _refuse(key)
        return values, flags == 1
    if values.dtype != (np.int64 if spec.kind == "int" else np.float64):
        raise _refuse(key)
    if spec.kind == "int":
        return values, None
    _check_floats(values, key, spec.kind)
    return values, np.isnan(values) if spec.kind == "optional_float" else None


def _check_floats(values: npt.NDArray[np.float64], key: str, kind: ColumnKind) -> None:
    """Numbers must be finite (NaN is None in an optional column) and, as outcomes, within
    MAX_MAGNITUDE."""
    if kind == "float" and not np.isfinite(values).all():
        raise _refuse(key)  # NaN or infinity is no price, size or fee
    if kind == "optional_float" and np.isinf(values).any():
        raise _refuse(key)
    is_requested = key.startswith("orders.") and key.split(".", 1)[1] in REQUESTED_FIELDS
    if not is_requested:
        _check_magnitude(values, key)


def _array(arrays: Mapping[str, npt.NDArray[Any]], key: str) -> npt.NDArray[Any]:
    array = arrays.get(key)
    if array is None:
        raise ProtocolError(f"the result is missing the column '{key}'")
    return array


def _checked_texts(values: object, name: str) -> list[str]:
    """A text column: strings only (already cleaned by the reader), each cut to
    RECORD_TEXT_CHARS; the check is one pass at C speed."""
    if not isinstance(values, list):
        raise _refuse(name)
    try:
        longest = max(map(str.__len__, values), default=0)
    except TypeError:  # an item that is not a string
        raise _refuse(name) from None
    if longest <= RECORD_TEXT_CHARS:
        return values
    return [clean_text(v, RECORD_TEXT_CHARS) for v in values]


MARK_ARRAYS: Final = ("index", "cash", "margin", "signed_size", "entry_price")
"""The account marks' arrays on the wire; a run over several symbols adds each further
symbol's (`AccountMarks.other_symbols`) as `marks.symbol<k>.signed_size`/`.entry_price`."""


def record_body(record: RunRecord) -> tuple[dict[str, Any], dict[str, npt.NDArray[Any]]]:
    """A RunRecord as a `result` message: small JSON plus typed arrays (nothing per bar)."""
    trade_texts, trade_arrays = records_to_arrays("trades", Trade, record.trades)
    order_texts, order_arrays = records_to_arrays("orders", OrderRecord, record.orders)
    log_texts, log_arrays = records_to_arrays("logs", LogLine, record.logs)
    body = {
        "type": "result",
        "strategy": record.strategy,
        "params": record.params,
        "start": record.start,
        "trades": trade_texts,
        "orders": order_texts,
        "logs": log_texts,
        "logs_dropped": record.logs_dropped,
        "fees_paid": record.fees_paid,
        "funding_paid": record.funding_paid,
        "liquidations": record.liquidations,
        "symbol_totals": [list(totals) for totals in record.symbol_totals],
        "warmup_bars": record.warmup_bars,
        "indicators": [
            {"name": name, "timeframe": rule, "settings": dict(settings)}
            for name, rule, settings in record.indicators[:MAX_INDICATOR_SETTINGS]
        ],
    }
    marks = {f"marks.{name}": getattr(record.marks, name) for name in MARK_ARRAYS}
    for k, (sizes, entries) in enumerate(record.marks.other_symbols):
        marks[f"marks.symbol{k}.signed_size"] = sizes
        marks[f"marks.symbol{k}.entry_price"] = entries
    return body, {**marks, **trade_arrays, **order_arrays, **log_arrays}


def result_from_frame(
    body: Mapping[str, Any],
    arrays: Mapping[str, npt.NDArray[Any]],
    market: MarketData,
    config: RunConfig,
    *,
    trade_batches: Sequence[TradeTable] = (),
    order_batches: Sequence[OrderTable] = (),
) -> RunResult:
    """The RunResult of an untrusted worker's `result` message: the record is checked
    (`record_from_frame`), then the equity curve and metrics are derived here from the
    parent's own market and config."""
    record = record_from_frame(
        body, arrays, market, trade_batches=trade_batches, order_batches=order_batches
    )
    return summarize(record, market, config)


def record_from_frame(
    body: Mapping[str, Any],
    arrays: Mapping[str, npt.NDArray[Any]],
    market: MarketData,
    *,
    trade_batches: Sequence[TradeTable] = (),
    order_batches: Sequence[OrderTable] = (),
) -> RunRecord:
    """The checked RunRecord of an untrusted worker's `result` message, before anything is
    derived from it (`summarize` derives the result).

    `trade_batches`/`order_batches` are the tables of records that came with progress
    messages, in order (`progress_from_frame`); the result carries the rest. Trades keep the
    order they were closed in, orders are by id. The records stay columns throughout: the
    record's tables hold the frames' arrays (or their concatenation), no Python object per
    record is made. A caller holding the batches can drop them once this returns: the record
    has its own copy.
    """
    bars = len(market)
    start = _scalar(body.get("start"), int, "start")
    if not 0 <= start < bars:
        raise ProtocolError("the result's first traded bar is outside the data")
    orders = RecordTable.concat(
        OrderRecord,
        [*order_batches, table_from_arrays("orders", OrderRecord, body.get("orders"), arrays)],
        order_by="id",
    )
    record = RunRecord(
        strategy=clean_text(_scalar(body.get("strategy"), str, "strategy"), MAX_NAME_CHARS),
        params=_params(body.get("params")),
        start=start,
        marks=_marks(arrays, start, bars, len(market.other_symbols)),
        trades=RecordTable.concat(
            Trade, [*trade_batches, table_from_arrays("trades", Trade, body.get("trades"), arrays)]
        ),
        orders=orders,
        logs=records_from_arrays("logs", LogLine, body.get("logs"), arrays),
        logs_dropped=_scalar(body.get("logs_dropped"), int, "logs_dropped"),
        fees_paid=_scalar(body.get("fees_paid"), float, "fees_paid"),
        funding_paid=_scalar(body.get("funding_paid"), float, "funding_paid"),
        liquidations=_scalar(body.get("liquidations"), int, "liquidations"),
        warmup_bars=_warmup_bars(body.get("warmup_bars"), bars - start),
        indicators=_indicator_settings(body.get("indicators", [])),
        symbol_totals=_symbol_totals(body.get("symbol_totals", []), market),
    )
    _check_symbols(record, market)
    return record


def _symbol_totals(value: object, market: MarketData) -> tuple[SymbolTotals, ...]:
    """Each symbol's totals of a run over several symbols: exactly the market's symbols, in
    its order, with finite numbers (none for a run over one)."""
    expected = market.symbols if market.other_symbols else ()
    if not isinstance(value, list) or len(value) != len(expected):
        raise ProtocolError("the result's per-symbol totals do not match the run's symbols")
    totals: list[SymbolTotals] = []
    for row, symbol in zip(value, expected, strict=True):
        if not isinstance(row, list) or len(row) != 4 or row[0] != symbol:
            raise ProtocolError("the result's per-symbol totals do not match the run's symbols")
        totals.append(
            SymbolTotals(
                symbol,
                _scalar(row[1], float, "symbol fees_paid"),
                _scalar(row[2], float, "symbol funding_paid"),
                _scalar(row[3], int, "symbol liquidations"),
            )
        )
    return tuple(totals)


def _check_symbols(record: RunRecord, market: MarketData) -> None:
    """Every trade and order names one of the run's symbols (or none: "", as records made
    before runs had several symbols)."""
    symbols = {"", *market.symbols}
    for records, cls in ((record.trades, Trade), (record.orders, OrderRecord)):
        if not _named_symbols(RecordTable.from_records(cls, records)) <= symbols:
            raise ProtocolError(
                "a trade or order of the result names a symbol the run does not trade"
            )


def _named_symbols(table: RecordTable[tuple[Any, ...]]) -> set[str]:
    """The symbols the rows of `table` name (not merely every text its column knows)."""
    known = table.distinct_texts("symbol")
    return {known[code] for code in np.unique(table.values("symbol")).tolist()}


def _indicator_settings(value: object) -> tuple[IndicatorSetting, ...]:
    """The indicators the strategy declared (at most MAX_INDICATOR_SETTINGS), each through
    the engine's own checks of a name and its settings, as a run checks them."""
    if not isinstance(value, list) or len(value) > MAX_INDICATOR_SETTINGS:
        raise ProtocolError("the result's indicator list has the wrong shape")
    declared: list[IndicatorSetting] = []
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("settings"), dict):
            raise ProtocolError("an indicator of the result has the wrong shape")
        rule = item.get("timeframe")
        if rule is not None and (type(rule) is not str or len(rule) > MAX_NAME_CHARS):
            raise ProtocolError("an indicator of the result names an invalid timeframe")
        try:
            name = plain_name(item.get("name"))
            args = check_settings(name, plain_settings(name, item["settings"]))
        except IndicatorError as error:
            raise ProtocolError(f"an indicator of the result is invalid: {error}") from None
        declared.append(IndicatorSetting(name, rule, tuple(sorted(args.items()))))
    return tuple(declared)


def _warmup_bars(value: object, traded_bars: int) -> int:
    """The run's warm-up: a whole number of the traded bars."""
    warmup: int = _scalar(value, int, "warmup_bars")
    if not 0 <= warmup <= traded_bars:
        raise ProtocolError("the result's warm-up is not a number of the run's bars")
    return warmup


def _marks(
    arrays: Mapping[str, npt.NDArray[Any]], start: int, bars: int, other_symbols: int = 0
) -> AccountMarks:
    names = [
        *MARK_ARRAYS,
        *(
            f"symbol{k}.{part}"
            for k in range(other_symbols)
            for part in ("signed_size", "entry_price")
        ),
    ]
    columns = {name: _array(arrays, f"marks.{name}") for name in names}
    index = columns["index"]
    if (
        index.dtype != np.int64
        or len({len(column) for column in columns.values()}) != 1
        or len(index) == 0
        or index[0] != start
        or index[-1] >= bars
        or (len(index) > 1 and not (np.diff(index) > 0).all())
    ):
        raise ProtocolError("the account marks are not ascending bars of the run")
    if any(columns[name].dtype != np.float64 for name in names if name != "index"):
        raise ProtocolError("the account marks must be numbers")
    if not all(np.isfinite(columns[name]).all() for name in names if name != "index"):
        raise ProtocolError("the account marks must be finite numbers")
    for name in names:
        if name != "index":
            _check_magnitude(columns[name], f"marks.{name}")
    return AccountMarks(
        index=columns["index"],
        cash=columns["cash"],
        margin=columns["margin"],
        signed_size=columns["signed_size"],
        entry_price=columns["entry_price"],
        other_symbols=tuple(
            (columns[f"symbol{k}.signed_size"], columns[f"symbol{k}.entry_price"])
            for k in range(other_symbols)
        ),
    )


def _params(value: object) -> dict[str, bool | int | float | str]:
    """The run's parameters: names of at most MAX_NAME_CHARS, plain finite values, text
    cleaned."""
    if not isinstance(value, dict):
        raise ProtocolError("params must be an object")
    params: dict[str, bool | int | float | str] = {}
    for key, item in value.items():
        name = clean_text(str(key), MAX_NAME_CHARS + 1)
        if (
            len(name) > MAX_NAME_CHARS
            or not isinstance(item, bool | int | float | str)
            or (isinstance(item, float) and not math.isfinite(item))
        ):
            raise ProtocolError(f"param '{clean_text(name, 50)}' has an invalid value")
        params[name] = clean_text(item) if isinstance(item, str) else item
    return params
