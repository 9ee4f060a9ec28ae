"""Runs: start one, list and read them, their trades, orders, logs and equity, cancel, delete."""

from __future__ import annotations

from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query, Response, status
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.api.admission import RunSlotDep
from app.api.audit_trail import AuditDep
from app.api.deps import CatalogDep, EngineDep, RunnerDep, SessionDep, SettingsDep
from app.api.schemas import (
    MAX_ID,
    Candle,
    CandlesOut,
    EquityOut,
    EquityPoint,
    ErrorOut,
    LogOut,
    OrderOut,
    RunCreate,
    RunCreated,
    RunDetail,
    RunError,
    RunSummary,
    TradeOut,
)
from app.auth.audit import AuditAction
from app.data.catalog import DatasetCatalog
from app.db import RunRow, RunStatus, crud, session_scope
from app.db.models import TradeRecord
from app.engine.feed import ns_to_datetime
from app.engine.timeframes import resample
from app.jobs import TERMINAL, RunStateError
from app.runs import RunOrder
from app.runs.errors import InvalidRunRequestError
from app.runs.folder import read_symbols, read_trade_margins
from app.runs.record import remove_run_folder
from app.runs.submission import CodeChoice, Submission, checked_record, ns_of, rerun_record
from app.settings import Settings

router = APIRouter(tags=["runs"])
Limit = Annotated[int, Query(ge=1, le=100_000, description="Rows to return at most.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]
RunId = Annotated[str, Path(min_length=1, max_length=64)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}
TOO_MANY: dict[int | str, dict[str, object]] = {
    429: {"model": ErrorOut, "description": "The client has as many active runs as it may."}
}


def run_summary(run: RunRow) -> RunSummary:
    """The list view of a run."""
    error = (
        RunError(
            message=str(run.error.get("message", "")),
            line=run.error.get("line"),
            kind=str(run.error.get("kind", "")),
        )
        if run.error
        else None
    )
    return RunSummary(
        id=run.id,
        status=run.status,
        strategy_id=run.strategy_id,
        strategy_version=run.strategy_version,
        strategy_name=run.strategy_name,
        dataset=run.dataset,
        pct=run.pct,
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        metrics=run.metrics,
        error=error,
    )


@router.post("/api/runs", status_code=status.HTTP_201_CREATED, responses=TOO_MANY)
async def create_run(
    body: RunCreate,
    engine: EngineDep,
    catalog: CatalogDep,
    runner: RunnerDep,
    slot: RunSlotDep,
    audit: AuditDep,
) -> RunCreated:
    """Check and queue a backtest; watch it on WS /ws/runs/{id}."""
    submission = Submission(
        dataset=body.dataset,
        choice=CodeChoice(
            code=body.code, strategy_id=body.strategy_id, strategy_version=body.strategy_version
        ),
        order=RunOrder(
            options=body.options(),
            start=ns_of(body.start),
            end=ns_of(body.end),
            params=dict(body.params),
            tiers=body.tiers,
            more_datasets=tuple(body.more_datasets),
            missing_bars=body.missing_bars,
        ),
    )

    def check() -> RunRow:  # the slow part, before the user's turn to store
        with session_scope(engine) as session:
            return checked_record(session, submission=submission, catalog=catalog)

    run_id = await slot.store(await run_in_threadpool(check))
    runner.submit(run_id)
    await audit.record(AuditAction.RUN_STARTED, target=f"run {run_id}")
    return RunCreated(id=run_id, status=RunStatus.QUEUED)


@router.post(
    "/api/runs/{run_id}/rerun",
    status_code=status.HTTP_201_CREATED,
    responses={**NOT_FOUND, **TOO_MANY},
)
async def rerun_run(
    run_id: RunId, engine: EngineDep, runner: RunnerDep, slot: RunSlotDep, audit: AuditDep
) -> RunCreated:
    """Queue a new run with the same code, dataset version, config and params as `run_id`."""

    def copy() -> RunRow:
        with session_scope(engine) as session:
            return rerun_record(session, run_id=run_id)

    new_id = await slot.store(await run_in_threadpool(copy))
    runner.submit(new_id)
    await audit.record(AuditAction.RUN_STARTED, target=f"run {new_id}", detail={"rerun_of": run_id})
    return RunCreated(id=new_id, status=RunStatus.QUEUED)


@router.get("/api/runs")
def list_runs(
    session: SessionDep,
    status_filter: Annotated[list[RunStatus] | None, Query(alias="status")] = None,
    strategy_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[RunSummary]:
    """Runs, newest first."""
    runs = crud.list_runs(
        session, statuses=status_filter or (), strategy_id=strategy_id, limit=limit, offset=offset
    )
    return [run_summary(run) for run in runs]


@router.get("/api/runs/{run_id}", responses=NOT_FOUND)
def get_run(run_id: RunId, session: SessionDep) -> RunDetail:
    """Everything about one run: inputs, status, progress, metrics, error."""
    run = crud.get_run(session, run_id=run_id)
    return RunDetail(
        **run_summary(run).model_dump(),
        code=run.code,
        code_hash=run.code_hash,
        params=run.params,
        dataset_version=run.dataset_version,
        dataset_hash=run.dataset_hash,
        config=run.config,
        config_hash=run.config_hash,
        provenance=run.provenance,
        bars_done=run.bars_done,
        bars_total=run.bars_total,
        logs_dropped=run.logs_dropped,
        error_details=run.error,
    )


@router.get("/api/runs/{run_id}/trades", responses=NOT_FOUND)
def list_trades(
    run_id: RunId,
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 10_000,
    offset: Offset = 0,
) -> list[TradeOut]:
    """Closed trades in the order they closed (empty until the run is done), each with its
    margin, leverage and return on margin (null for a run stored before margins were kept)."""
    trades = crud.list_trades(session, run_id=run_id, limit=limit, offset=offset)
    margins = read_trade_margins(settings.runs_dir / run_id / "trades.csv", offset, len(trades))
    if len(margins) != len(trades):
        margins = [None] * len(trades)
    symbols = _symbols(session, settings, run_id, "trades.csv", offset, len(trades))
    return [
        trade_out(t, margin, symbol)
        for t, margin, symbol in zip(trades, margins, symbols, strict=True)
    ]


def _symbols(
    session: Session, settings: Settings, run_id: str, name: str, offset: int, count: int
) -> list[str]:
    """The symbol of each of `count` rows of the run folder's `name` from `offset`: its
    `symbol` column (a run over several symbols), else the run's own symbol."""
    if not count:
        return []
    symbols = read_symbols(settings.runs_dir / run_id / name, offset, count)
    if len(symbols) == count:
        return symbols
    run = crud.get_run(session, run_id=run_id)
    return [str((run.config or {}).get("symbol", ""))] * count


def trade_out(trade: TradeRecord, margin: float | None, symbol: str = "") -> TradeOut:
    """One trade as the API shows it; leverage and return on margin derive from `margin`."""
    notional = trade.size * trade.entry_price
    return TradeOut(
        symbol=symbol,
        entry_time=ns_to_datetime(trade.entry_time),
        exit_time=ns_to_datetime(trade.exit_time),
        entry_index=trade.entry_index,
        exit_index=trade.exit_index,
        side=trade.side,
        size=trade.size,
        entry_price=trade.entry_price,
        exit_price=trade.exit_price,
        pnl=trade.pnl,
        fees=trade.fees,
        exit_reason=trade.exit_reason,
        margin=margin,
        leverage=notional / margin if margin else None,
        return_on_margin=trade.pnl / margin if margin else None,
    )


@router.get("/api/runs/{run_id}/orders", responses=NOT_FOUND)
def list_orders(
    run_id: RunId,
    session: SessionDep,
    settings: SettingsDep,
    limit: Limit = 10_000,
    offset: Offset = 0,
) -> list[OrderOut]:
    """Every order the strategy placed, in its final state, with the symbol it trades."""
    orders = crud.list_orders(session, run_id=run_id, limit=limit, offset=offset)
    symbols = _symbols(session, settings, run_id, "orders.csv", offset, len(orders))
    return [
        OrderOut(
            symbol=symbol,
            id=o.order_id,
            created_time=ns_to_datetime(o.created_time),
            created_index=o.created_index,
            side=o.side,
            type=o.type,
            amount=o.amount,
            limit_price=o.limit_price,
            stop_price=o.stop_price,
            leverage=o.leverage,
            stop_loss=o.stop_loss,
            take_profit=o.take_profit,
            status=o.status,
            filled_time=ns_to_datetime(o.filled_time) if o.filled_time is not None else None,
            filled_price=o.filled_price,
            filled_amount=o.filled_amount,
            fee=o.fee,
            reason=o.reason,
        )
        for o, symbol in zip(orders, symbols, strict=True)
    ]


@router.get("/api/runs/{run_id}/logs", responses=NOT_FOUND)
def list_logs(
    run_id: RunId, session: SessionDep, limit: Limit = 10_000, offset: Offset = 0
) -> list[LogOut]:
    """The strategy's log lines (and the engine's refusals), in order."""
    return [
        LogOut(
            time=ns_to_datetime(line.time),
            bar_index=line.bar_index,
            level=line.level,
            message=line.message,
        )
        for line in crud.list_logs(session, run_id=run_id, limit=limit, offset=offset)
    ]


@router.get("/api/runs/{run_id}/equity", responses=NOT_FOUND)
def get_equity(
    run_id: RunId,
    session: SessionDep,
    max_points: Annotated[int, Query(ge=2, le=1_000_000)] = 2000,
) -> EquityOut:
    """The equity curve with drawdown, thinned evenly to `max_points` (the last bar kept)."""
    curve = crud.get_equity(session, run_id=run_id)
    if curve is None or len(curve.time) == 0:
        return EquityOut(run_id=run_id, total_points=0, points=[])
    total = len(curve.time)
    peak = np.maximum.accumulate(curve.equity)
    drawdown = np.where(peak > 0, curve.equity / np.where(peak > 0, peak, 1.0) - 1.0, 0.0)
    picks = np.unique(np.linspace(0, total - 1, min(total, max_points)).round().astype(int))
    points = [
        EquityPoint(
            time=int(curve.time[i] // 1_000_000_000),
            equity=float(curve.equity[i]),
            drawdown=float(drawdown[i]),
            position=float(curve.position[i]),
        )
        for i in picks
    ]
    return EquityOut(run_id=run_id, total_points=total, points=points)


@router.get("/api/runs/{run_id}/candles", responses=NOT_FOUND)
def get_candles(
    run_id: RunId,
    session: SessionDep,
    catalog: CatalogDep,
    max_candles: Annotated[int, Query(ge=10, le=20_000)] = 2000,
    symbol: Annotated[str | None, Query(max_length=64)] = None,
) -> CandlesOut:
    """The price bars of the run's traded period, merged into coarser candles (whole
    multiples of the data's bar) when there are more than `max_candles`; of `symbol` (one of
    the run's, default its primary) for a run over several symbols."""
    run = crud.get_run(session, run_id=run_id)
    curve = crud.get_equity(session, run_id=run_id)
    datasets = _run_datasets(run, catalog)
    if symbol is not None and symbol not in datasets:
        known = ", ".join(datasets)
        raise InvalidRunRequestError("symbol", f"the run trades {known}, not {symbol!r}")
    chosen = symbol if symbol is not None else next(iter(datasets))
    market = catalog.load_market(catalog.resolve(datasets[chosen]))
    if curve is not None and len(curve.time):
        first, last = np.searchsorted(market.time, [int(curve.time[0]), int(curve.time[-1])])
        market = market.slice(int(first), max(int(last) + 1, int(first) + 1))
    bar_ns = market.bar_ns
    merge = max(1, -(-len(market) // max_candles))
    if merge > 1:
        market = resample(market, bar_ns * merge)
    return CandlesOut(
        run_id=run_id,
        dataset=datasets[chosen],
        symbol=chosen,
        symbols=list(datasets),
        candle_seconds=bar_ns * merge // 1_000_000_000,
        candles=[
            Candle(time=t // 1_000_000_000, open=o, high=h, low=lo, close=c)
            for t, o, h, lo, c in zip(
                market.time.tolist(),
                market.open.tolist(),
                market.high.tolist(),
                market.low.tolist(),
                market.close.tolist(),
                strict=True,
            )
        ],
    )


def _run_datasets(run: RunRow, catalog: DatasetCatalog) -> dict[str, str]:
    """The run's datasets by symbol, the primary first (a run over several symbols names the
    further ones in its config's `other_datasets`)."""
    config = run.config or {}
    datasets = {str(config.get("symbol", "")): run.dataset}
    for name in config.get("other_datasets", []):
        datasets[catalog.resolve(str(name)).symbol] = str(name)
    return datasets


@router.post(
    "/api/runs/{run_id}/cancel", responses={404: {"model": ErrorOut}, 409: {"model": ErrorOut}}
)
async def cancel_run(run_id: RunId, engine: EngineDep, runner: RunnerDep) -> RunSummary:
    """Stop a queued or running run (its worker is killed); answers with its new state."""
    current = await run_in_threadpool(_status, engine, run_id)
    if current in TERMINAL:
        raise RunStateError(run_id, current, "cancelled")
    await runner.cancel(run_id)
    with session_scope(engine) as session:
        return run_summary(crud.get_run(session, run_id=run_id))


@router.delete("/api/runs/{run_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND)
async def delete_run(
    run_id: RunId, engine: EngineDep, runner: RunnerDep, settings: SettingsDep, audit: AuditDep
) -> Response:
    """Delete a run, its results and its folder (a run still going is cancelled first)."""
    if await run_in_threadpool(_status, engine, run_id) not in TERMINAL:
        await runner.cancel(run_id)

    def delete() -> None:
        with session_scope(engine) as session:
            crud.delete_run(session, run_id=run_id)
        remove_run_folder(settings.runs_dir, run_id)  # only once the run was found and deleted

    await run_in_threadpool(delete)
    await audit.record(AuditAction.DELETED, target=f"run {run_id}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _status(engine: EngineDep, run_id: str) -> RunStatus:
    with session_scope(engine) as session:
        return crud.get_run(session, run_id=run_id).status
