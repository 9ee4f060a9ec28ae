"""The bar loop: runs one strategy over one market from start to end, deterministically."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from sys import getrefcount

import numpy as np

from app.engine import liquidation
from app.engine.account import Exchange, SymbolAccount
from app.engine.broker import Broker
from app.engine.checkpoint import (
    Checkpoint,
    CheckpointCallback,
    CheckpointSchedule,
    bar_chunks,
    start_checkpoints,
)
from app.engine.config import ParamValue, RunConfig
from app.engine.context import StrategyContext
from app.engine.errors import (
    ConfigError,
    EngineError,
    RecordLimitExceeded,
    StrategyDefinitionError,
    StrategyRuntimeError,
)
from app.engine.events import Event
from app.engine.feed import Bar, BarColumns, Cursor, IntArray, MarketData, ns_to_iso
from app.engine.indicators import IndicatorSource
from app.engine.logbook import LogSink
from app.engine.metrics import MetricValue, compute_metrics
from app.engine.record_tables import RecordTable
from app.engine.results import EquityLedger, RunRecord, RunResult, equity_curve, exposed_bars
from app.engine.strategy import Strategy, coerce_params
from app.engine.symbol_results import SymbolTotals, summarize_symbols
from app.engine.types import LogLevel, LogLine, OrderRecord, Trade
from app.engine.wake import activity
from app.engine.warmup import Warmup, describe, plan_warmup, warmup_setting

PROGRESS_LOG_LINES = 100
# What a report says the run is doing: computing the indicators initialize() declares (one
# report, before it), then running bars (every other report).
PROGRESS_STAGES = ("indicators", "running")


@dataclass(frozen=True, slots=True)
class Progress:
    """A progress report: bars done of the total, equity at the last bar's close, the log lines
    written since the previous report (the last PROGRESS_LOG_LINES of them), and the trades
    closed and orders ended since the previous report (all of them; they are final).
    `stage` is one of PROGRESS_STAGES. While it is "indicators", `indicators_done` counts the
    `self.indicator(...)` calls made so far and `indicators_total` the expected count (the
    caller's estimate, raised to `indicators_done` when the strategy declares more)."""

    bars_done: int
    bars_total: int
    time: int
    equity: float
    logs: tuple[LogLine, ...] = ()
    trades: Sequence[Trade] = ()  # a table (RecordTable) where the parent decoded them
    orders: Sequence[OrderRecord] = ()
    stage: str = "running"
    indicators_done: int = 0
    indicators_total: int = 0


ProgressCallback = Callable[[Progress], None]


def run_backtest(
    strategy_class: type[Strategy],
    market: MarketData,
    config: RunConfig,
    *,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 0,
    journal: list[Event] | None = None,
) -> RunResult:
    """Run `strategy_class` on `market` under `config`; same inputs, same result.

    `config.params` override the class's `params` (each taking its default's type). Bars after
    `config.end` are cut before anything sees them; bars before `config.start` warm indicators
    up but are not traded. `on_progress` is called every `progress_every` bars (default: about
    200 times per run) and at the end. Pass a list as `journal` to collect every event of the
    run (`app.engine.events`) in the order it happened.
    """
    market = cut_after_end(market, config.end)  # once: simulate and summarize find it cut
    record = simulate(
        strategy_class,
        market,
        config,
        on_progress=on_progress,
        progress_every=progress_every,
        journal=journal,
    )
    return summarize(record, market, config)


def simulate(
    strategy_class: type[Strategy],
    market: MarketData,
    config: RunConfig,
    *,
    on_progress: ProgressCallback | None = None,
    progress_every: int = 0,
    journal: list[Event] | None = None,
    indicator_source: IndicatorSource | None = None,
    indicators_expected: int = 0,
    resume: Checkpoint | None = None,
    on_checkpoint: CheckpointCallback | None = None,
) -> RunRecord:
    """The bar loop of `run_backtest`: orders, trades, logs and account marks, no curve yet.
    The order records and the engine's log lines are derived from the run's events, which go
    to `journal` too when one is given. With `indicator_source` the strategy's indicators come
    from it (a sweep trial's shared ones) instead of being computed here; the values are the
    same. `indicators_expected` (the `self.indicator` calls the source makes, 0: unknown) is
    the total of the "indicators" reports, one after each indicator computed.
    With `config.checkpoint_every` > 0, `on_checkpoint` gets a Checkpoint of the run every so
    many bars; `resume` continues a run from one (app.engine.checkpoint): the result is the
    one the run would have had without stopping."""
    market = cut_after_end(market, config.end)
    start = _first_traded_index(market, config.start)
    params = coerce_params(_class_params(strategy_class), config.param_dict)
    cursor = Cursor()
    log = LogSink(
        config.max_log_lines,
        cursor,
        market.time,
        start,
        max_line_chars=config.max_log_line_chars,
        max_total_chars=config.max_log_chars,
    )
    broker: Exchange = (
        SymbolAccount(market, config, log, journal)
        if market.other_symbols or config.margin_mode == "cross"
        else Broker(market, config, log, journal)
    )
    on_indicator = _indicator_reporter(market, config, start, indicators_expected, on_progress)
    context = StrategyContext(market, cursor, broker, log, indicator_source, on_indicator)
    strategy = _instantiate(strategy_class, context, params)
    cursor.end = start  # initialize() runs before the first traded bar: it sees none of it
    if on_indicator is not None:  # initialize() computes the indicators
        on_indicator(0)
    _call(strategy.initialize, "initialize()", None, market)
    context.end_initialization()
    warmup = _plan_warmup(strategy, context, market, start)
    ledger = EquityLedger()
    broker.mark(ledger, start)  # the cash, no position
    total = len(market) - start
    every = progress_every or max(1, total // 200)
    report = _Reporter(market, broker, log, start, on_progress)
    broker.records.raise_if_exceeded()  # initialize() may have caught it
    _refuse_account_checkpoints(broker, config, resume)
    first, checkpoints = (
        (warmup.first_index, None)
        if isinstance(broker, SymbolAccount)
        else start_checkpoints(
            strategy,
            broker,
            log,
            ledger,
            origin=warmup.first_index,
            every=config.checkpoint_every,
            resume=resume,
            on_checkpoint=on_checkpoint,
        )
    )
    if first == warmup.first_index:  # not resumed past it: the notice is in the log already
        _note_warmup(warmup, market, cursor, log)
        _note_dropped_bars(market, cursor, log)
    wake = context.wake_bars(warmup.first_index, len(market))  # None: every bar
    _loop(strategy, market, broker, cursor, ledger, first, every, report, checkpoints, wake)
    last = len(market) - 1
    broker.close_out(last)
    broker.records.raise_if_exceeded()
    _mark(ledger, broker, last)
    report(last)  # the last report comes after the end-of-data close
    portfolio = broker.portfolio
    ended = [*broker.finished, *(order.record() for order in broker.working)]
    orders = sorted(ended, key=lambda order: order.id)
    return RunRecord(
        strategy=strategy_class.__name__,
        params=dict(params),
        start=start,
        marks=ledger.marks(),
        trades=tuple(broker.trades),
        orders=tuple(orders),
        logs=tuple(log.lines),
        logs_dropped=log.dropped,
        fees_paid=portfolio.fees_paid,
        funding_paid=portfolio.funding_paid,
        liquidations=portfolio.liquidations,
        warmup_bars=warmup.bars,
        indicators=context.declared_indicators(),
        symbol_totals=_symbol_totals(broker),
    )


def _symbol_totals(broker: Exchange) -> tuple[SymbolTotals, ...]:
    """What each symbol's portfolio paid, in a run over several symbols (else nothing)."""
    if not isinstance(broker, SymbolAccount):
        return ()
    return tuple(
        SymbolTotals(
            symbol, b.portfolio.fees_paid, b.portfolio.funding_paid, b.portfolio.liquidations
        )
        for symbol, b in broker.brokers.items()
    )


def _refuse_account_checkpoints(
    broker: Exchange, config: RunConfig, resume: Checkpoint | None
) -> None:
    """A checkpoint holds one symbol's account (app.engine.checkpoint): a run over several
    symbols takes none and resumes from none."""
    if isinstance(broker, SymbolAccount) and (config.checkpoint_every > 0 or resume is not None):
        raise ConfigError(
            "checkpoint_every",
            "a run over several symbols cannot take or resume from checkpoints yet; run it "
            "without --checkpoint-every",
        )


def _plan_warmup(
    strategy: Strategy, context: StrategyContext, market: MarketData, start: int
) -> Warmup:
    """Where on_data starts (app/engine/warmup.py), from what initialize() declared."""
    setting = warmup_setting(getattr(strategy, "warmup", None))
    return plan_warmup(setting, context.declared_views(), market, start)


def _note_warmup(warmup: Warmup, market: MarketData, cursor: Cursor, log: LogSink) -> None:
    """The log's line on the warm-up, unless nothing waited: stamped with the first bar
    on_data sees (or, when it sees none, the last bar), so no line tells of a later bar."""
    if not warmup.bars and warmup.rule == "automatic":
        return
    cursor.end = min(warmup.first_index, len(market) - 1) + 1
    log.write(LogLevel.INFO, describe(warmup))


def _note_dropped_bars(market: MarketData, cursor: Cursor, log: LogSink) -> None:
    """The log's line on the bar times a run over several symbols left out (not every symbol
    had a bar there: app.engine.timeline, missing_bars="common")."""
    if market.bars_dropped:
        cursor.end = max(cursor.end, 1)
        log.write(
            LogLevel.INFO,
            f"{market.bars_dropped:,} bar time(s) left out: not every one of "
            f"{', '.join(market.symbols)} has a bar there (missing_bars=common)",
        )


def summarize(record: RunRecord, market: MarketData, config: RunConfig) -> RunResult:
    """The run's result from what `simulate` recorded on `market` under `config`: the equity
    curve rebuilt bar by bar from the account marks, and the metrics."""
    market = cut_after_end(market, config.end)
    start = record.start
    trades = RecordTable.from_records(Trade, record.trades)  # as it is when already a table
    other_closes = tuple(other.marked("close") for other in market.other_symbols)
    curve = equity_curve(
        record.marks, market.time, market.marked("close"), start, len(market), other_closes
    )
    metrics = compute_metrics(
        initial=config.cash,
        times=curve.time,
        equity=curve.equity,
        exposed=exposed_bars(curve, record.marks, start),
        trades=trades,
        closes=market.close[start:],
        bar_ns=market.bar_ns,
        days_per_year=config.trading_days_per_year,
        risk_free_rate=config.risk_free_rate,
        fees_paid=record.fees_paid,
        funding_paid=record.funding_paid,
        liquidations=record.liquidations,
    )
    metrics = _with_warmup(metrics, record.warmup_bars)
    if market.other_symbols:
        metrics["symbols"] = len(market.symbols)
        metrics["bars_dropped"] = market.bars_dropped
    return RunResult(
        strategy=record.strategy,
        params=dict(record.params),
        config=config,
        bars_total=len(market) - start,
        equity=curve,
        trades=trades,
        orders=RecordTable.from_records(OrderRecord, record.orders),
        logs=record.logs,
        logs_dropped=record.logs_dropped,
        metrics=metrics,
        indicators=record.indicators,
        price_source=liquidation.price_source(market),
        symbols=summarize_symbols(trades, record.symbol_totals),
    )


def _with_warmup(metrics: dict[str, MetricValue], warmup_bars: int) -> dict[str, MetricValue]:
    """`metrics` with `warmup_bars` after `bars` (the figures cover the warm-up bars too)."""
    out: dict[str, MetricValue] = {}
    for name, value in metrics.items():
        out[name] = value
        if name == "bars":
            out["warmup_bars"] = warmup_bars
    return out


def _indicator_reporter(
    market: MarketData,
    config: RunConfig,
    start: int,
    expected: int,
    on_progress: ProgressCallback | None,
) -> Callable[[int], None] | None:
    """The "indicators" report of `done` indicators (None when nobody listens)."""
    if on_progress is None or not len(market):
        return None
    first = int(market.time[min(start, len(market) - 1)])
    total = len(market) - start

    def report(done: int) -> None:
        on_progress(
            Progress(
                0,
                total,
                first,
                config.cash,
                stage="indicators",
                indicators_done=done,
                indicators_total=max(expected, done),
            )
        )

    return report


def _loop(
    strategy: Strategy,
    market: MarketData,
    broker: Exchange,
    cursor: Cursor,
    ledger: EquityLedger,
    first: int,
    every: int,
    report: _Reporter,
    checkpoints: CheckpointSchedule | None = None,
    wake: IntArray | None = None,
) -> None:
    """Bars `first` (the first after the warm-up, or a checkpoint's) to the end: broker, then
    on_data. A progress report after each chunk of bars, a checkpoint where one is due.
    With `wake` (the sorted bars wake_on declared, app.engine.wake) only the bars that need
    it are visited: the broker's (`next_work`) and those, on_data called on the latter and on
    the bars where the broker did something for the account.
    Every bar: one Bar object serves bar after bar while only the loop holds it (its
    reference count says so; CPython's count is exact). Once the strategy keeps it (a list,
    an attribute, a closure), the next bar gets a new Bar, so a kept Bar keeps its own bar's
    values (tests/engine/test_bar_reuse.py)."""
    if wake is not None:
        _loop_on_wake(
            strategy, market, broker, cursor, ledger, first, every, report, checkpoints, wake
        )
        return
    on_data = strategy.on_data
    stop = len(market)
    step = every if report.is_active else stop
    origin = first if checkpoints is None else checkpoints.origin
    columns = BarColumns(market)
    bar = Bar(columns, first)
    held = getrefcount(bar)  # the loop's own references: nobody else holds this Bar
    for chunk_start, chunk_stop in bar_chunks(first, stop, step, origin, checkpoints):
        for index in range(chunk_start, chunk_stop):
            cursor.end = index + 1
            if index >= broker.next_work and broker.step(index):
                _mark(ledger, broker, index)
            if getrefcount(bar) == held:
                bar.index = index
            else:  # the strategy kept the previous Bar: it keeps that bar's values
                bar = Bar(columns, index)
            try:  # inline, not a call per bar; the same errors as _call_on_data's
                on_data(bar)
            except RecordLimitExceeded:
                raise  # the run's own cap, not the strategy's error
            except Exception as error:
                raise _runtime_error(error, "on_data()", index, market) from error
        broker.records.raise_if_exceeded()  # a strategy may have caught it and carried on
        if index + 1 < stop:
            report(index)
            if checkpoints is not None:
                checkpoints.after(index + 1)


def _loop_on_wake(
    strategy: Strategy,
    market: MarketData,
    broker: Exchange,
    cursor: Cursor,
    ledger: EquityLedger,
    first: int,
    every: int,
    report: _Reporter,
    checkpoints: CheckpointSchedule | None,
    wake: IntArray,
) -> None:
    """`_loop` for a strategy that declared wake-ups: it jumps from one needed bar to the
    next (the broker's `next_work` or the next bar of `wake`), so the bars in between cost
    nothing. Reports, checkpoints and the cursor are as in the every-bar loop: each chunk's
    report and checkpoint come with `cursor.end` at the chunk's end."""
    on_data = strategy.on_data
    stop = len(market)
    step = every if report.is_active else stop
    origin = first if checkpoints is None else checkpoints.origin
    columns = BarColumns(market)
    bars = [*wake[wake >= first].tolist(), stop]  # the stop ends every search
    position = 0  # bars[position] is the next declared bar not yet visited
    index = first
    for chunk_start, chunk_stop in bar_chunks(first, stop, step, origin, checkpoints):
        index = max(index, chunk_start)
        while index < chunk_stop:
            cursor.end = index + 1
            is_woken = bars[position] == index
            if index >= broker.next_work:
                before = activity(broker)
                if broker.step(index):
                    _mark(ledger, broker, index)
                    is_woken = is_woken or activity(broker) != before
            if is_woken:
                _call_on_data(on_data, Bar(columns, index), index, market)
            while bars[position] <= index:
                position += 1
            index = min(bars[position], max(broker.next_work, index + 1))
        broker.records.raise_if_exceeded()  # a strategy may have caught it and carried on
        if chunk_stop < stop:
            cursor.end = chunk_stop
            report(chunk_stop - 1)
            if checkpoints is not None:
                checkpoints.after(chunk_stop)


def _call_on_data(on_data: Callable[[Bar], None], bar: Bar, index: int, market: MarketData) -> None:
    """The strategy's on_data with `bar` (bar `index`); its error as a StrategyRuntimeError
    at the bar. The every-bar loop does the same inline."""
    try:
        on_data(bar)
    except RecordLimitExceeded:
        raise  # the run's own cap, not the strategy's error
    except Exception as error:
        raise _runtime_error(error, "on_data()", index, market) from error


class _Reporter:
    """Builds Progress reports, each carrying the log lines written since the previous one."""

    def __init__(
        self,
        market: MarketData,
        broker: Exchange,
        log: LogSink,
        start: int,
        on_progress: ProgressCallback | None,
    ) -> None:
        self._market, self._broker, self._log = market, broker, log
        self._start = start
        self._on_progress = on_progress
        self._logs_sent = self._trades_sent = self._orders_sent = 0

    @property
    def is_active(self) -> bool:
        return self._on_progress is not None

    def __call__(self, index: int) -> None:
        if self._on_progress is None:
            return
        broker = self._broker
        lines = self._log.lines
        fresh = tuple(lines[max(self._logs_sent, len(lines) - PROGRESS_LOG_LINES) :])
        trades = tuple(broker.trades[self._trades_sent :])
        orders = tuple(broker.finished[self._orders_sent :])
        self._logs_sent = len(lines)
        self._trades_sent += len(trades)
        self._orders_sent += len(orders)
        self._on_progress(
            Progress(
                bars_done=index - self._start + 1,
                bars_total=len(self._market) - self._start,
                time=int(self._market.time[index]),
                equity=broker.equity_at(index),
                logs=fresh,
                trades=trades,
                orders=orders,
            )
        )


def _mark(ledger: EquityLedger, broker: Exchange, index: int) -> None:
    broker.mark(ledger, index)


def _call(method: Callable[[], None], phase: str, index: int | None, market: MarketData) -> None:
    try:
        method()
    except EngineError:
        raise
    except Exception as error:
        raise _runtime_error(error, phase, index, market) from error


def _runtime_error(
    error: Exception, phase: str, index: int | None, market: MarketData
) -> StrategyRuntimeError:
    if isinstance(error, StrategyRuntimeError):
        return error
    return StrategyRuntimeError(
        exc_type=type(error).__name__,
        message=str(error),
        bar_index=index,
        bar_time=ns_to_iso(int(market.time[index])) if index is not None else None,
        phase=phase,
    )


def _class_params(strategy_class: type[Strategy]) -> dict[str, ParamValue]:
    """The `params` dicts along the class's method resolution order, merged base first (a
    subclass's value wins): the rule sandbox.inspection reads from the source."""
    params: dict[str, ParamValue] = {}
    for cls in reversed(strategy_class.__mro__):
        own = cls.__dict__.get("params")
        if own is None:
            continue
        if not isinstance(own, dict):
            raise StrategyDefinitionError("`params` must be a dict of name -> default value")
        params.update(own)
    for name, value in params.items():
        if not isinstance(name, str) or not isinstance(value, bool | int | float | str):
            raise StrategyDefinitionError(
                f"parameter {name!r}: defaults must be numbers, bools or strings"
            )
    return params


def _instantiate(
    strategy_class: type[Strategy], context: StrategyContext, params: dict[str, ParamValue]
) -> Strategy:
    if not (isinstance(strategy_class, type) and issubclass(strategy_class, Strategy)):
        raise StrategyDefinitionError("the strategy must be a class derived from Strategy")
    if strategy_class.on_data is Strategy.on_data:
        raise StrategyDefinitionError(f"{strategy_class.__name__} has no on_data(self, bar) method")
    strategy = object.__new__(strategy_class)
    object.__setattr__(strategy, "_context", context)
    object.__setattr__(strategy, "params", dict(params))
    return strategy


def cut_after_end(market: MarketData, end: int | None) -> MarketData:
    """`market` without the bars after `end` (epoch ns): what a run with that end sees."""
    if end is None or int(market.time[-1]) <= end:
        return market
    stop = int(np.searchsorted(market.time, end, side="right"))
    if stop == 0:
        raise ConfigError("end", "the period ends before the first bar of the data")
    return market.slice(0, stop)


def _first_traded_index(market: MarketData, start: int | None) -> int:
    if start is None:
        return 0
    index = int(np.searchsorted(market.time, start, side="left"))
    if index >= len(market):
        raise ConfigError("start", "the period starts after the last bar of the data")
    return index
