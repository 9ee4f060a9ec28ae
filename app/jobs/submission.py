"""Turning a run request into a stored, queued run: code, dataset version, typed config.

Everything that can be checked before a worker starts is checked here, so a bad request is
refused with the field at fault instead of becoming a failed run.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from app.data.errors import DataError
from app.db import crud
from app.db.errors import RecordNotFoundError
from app.db.models import RunRecord, RunStatus, utc_now
from app.engine import (
    ConfigError,
    Mode,
    ParamValue,
    RunConfig,
    StrategyDefinitionError,
    coerce_params,
)
from app.jobs.datasets import DatasetCatalog, DatasetEntry
from app.jobs.errors import InvalidRunRequestError
from app.jobs.sources import default_params, strategy_class_name
from sandbox import StrategyRejected, has_errors, validate_source


@dataclass(frozen=True, slots=True)
class RunOrder:
    """What a client asked to run; fees are fractions of notional, times UTC-aware."""

    dataset: str
    code: str | None = None
    strategy_id: int | None = None
    strategy_version: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    mode: Mode = Mode.FUTURES
    cash: float = 10_000.0
    leverage_max: float = 125.0
    fee_maker: float = 0.0002
    fee_taker: float = 0.0005
    slippage_bps: float = 0.0
    params: dict[str, ParamValue] = field(default_factory=dict)


def create_run(session: Session, *, order: RunOrder, catalog: DatasetCatalog) -> RunRecord:
    """Check `order` and store it as a queued run (the caller commits, then queues it)."""
    code, strategy_id, strategy_version = _resolve_code(session, order)
    diagnostics = validate_source(code)
    if has_errors(diagnostics):
        raise StrategyRejected(diagnostics)
    try:
        entry = catalog.resolve(order.dataset)
    except DataError as error:
        raise InvalidRunRequestError("dataset", str(error)) from None
    _check_period(order, entry)
    try:
        params = coerce_params(default_params(code), order.params)
    except StrategyDefinitionError as error:
        raise InvalidRunRequestError("params", str(error)) from None
    config = _config(order, entry.symbol, params)
    record = RunRecord(
        id=uuid.uuid4().hex,
        status=RunStatus.QUEUED,
        strategy_id=strategy_id,
        strategy_version=strategy_version,
        strategy_name=strategy_class_name(code),
        code=code,
        code_hash=crud.code_hash(code),
        params=dict(params),
        dataset=order.dataset,
        dataset_version=entry.name,
        dataset_hash=entry.content_hash,
        config=config.to_dict(),
        config_hash=config.fingerprint(),
        created_at=utc_now(),
    )
    return crud.create_run(session, run=record)


def _check_period(order: RunOrder, entry: DatasetEntry) -> None:
    if order.start and entry.last_bar and order.start > entry.last_bar:
        message = (
            f"the period starts after the dataset's last bar ({entry.last_bar:%Y-%m-%d %H:%M})"
        )
        raise InvalidRunRequestError("start", message)
    if order.end and entry.first_bar and order.end < entry.first_bar:
        message = (
            f"the period ends before the dataset's first bar ({entry.first_bar:%Y-%m-%d %H:%M})"
        )
        raise InvalidRunRequestError("end", message)


def _resolve_code(session: Session, order: RunOrder) -> tuple[str, int | None, int | None]:
    if order.strategy_id is None:
        return order.code or "", None, None
    try:
        version = crud.get_strategy_version(
            session, strategy_id=order.strategy_id, version=order.strategy_version
        )
    except RecordNotFoundError as error:
        where = "strategy_version" if order.strategy_version else "strategy_id"
        raise InvalidRunRequestError(where, str(error)) from None
    return version.code, version.strategy_id, version.version


def _config(order: RunOrder, symbol: str, params: dict[str, ParamValue]) -> RunConfig:
    try:
        return RunConfig(
            mode=order.mode,
            cash=order.cash,
            leverage_max=order.leverage_max,
            fee_maker=order.fee_maker,
            fee_taker=order.fee_taker,
            slippage_bps=order.slippage_bps,
            symbol=symbol,
            start=_ns(order.start),
            end=_ns(order.end),
            params=tuple(sorted(params.items())),
        )
    except ConfigError as error:
        raise InvalidRunRequestError(error.field, error.message) from None


def _ns(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def rerun(session: Session, *, run_id: str) -> RunRecord:
    """A new queued run with exactly the inputs of `run_id` (e.g. one a restart interrupted)."""
    source = crud.get_run(session, run_id=run_id)
    copy = RunRecord(
        id=uuid.uuid4().hex,
        status=RunStatus.QUEUED,
        **{name: getattr(source, name) for name in RERUN_FIELDS},
        created_at=utc_now(),
    )
    return crud.create_run(session, run=copy)


RERUN_FIELDS = (
    "strategy_id",
    "strategy_version",
    "strategy_name",
    "code",
    "code_hash",
    "params",
    "dataset",
    "dataset_version",
    "dataset_hash",
    "config",
    "config_hash",
)
