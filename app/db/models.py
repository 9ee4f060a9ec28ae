"""The stored records: strategies and their versions, runs and what a run produced.

Equity curves are one row per run holding zlib-compressed little-endian arrays (see
`app.db.arrays`), never a row per bar. Times are stored as naive UTC and read back UTC-aware.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC (portable to SQLite) and returned UTC-aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: pass a UTC-aware one")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class RunStatusType(TypeDecorator["RunStatus"]):
    """A RunStatus stored as its string value and read back as the enum."""

    impl = sa.String(16)
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else RunStatus(value).value

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> RunStatus | None:
        return None if value is None else RunStatus(value)


_UNSTORABLE: Final = re.compile("[\x00\ud800-\udfff]")
"""What no database text column takes: NUL (PostgreSQL) and lone surrogates (every UTF-8
encoder). They become U+FFFD both ways, so a bad row can be neither written nor served."""


def storable(value: Any) -> Any:
    """`value` (a string, or JSON data holding strings) with NUL and lone surrogates replaced."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value) if _UNSTORABLE.search(value) else value
    if isinstance(value, list):
        return [storable(item) for item in value]
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    return value


class StorableText(TypeDecorator[str]):
    """Text that is always storable and always servable (see `storable`)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else storable(value)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        return None if value is None else storable(value)


class StorableJSON(TypeDecorator[Any]):
    """JSON whose strings are always storable and servable, rows stored before included."""

    impl = sa.JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        return storable(value)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return storable(value)


def utc_now() -> datetime:
    """The current time, UTC-aware."""
    return datetime.now(UTC)


class RunStatus(StrEnum):
    """A run's life: queued -> running -> done | failed | cancelled (see app.jobs.runner)."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


def _time_column(*, nullable: bool) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class StrategyRecord(SQLModel, table=True):
    """A saved strategy; its code lives in its versions (the highest is current)."""

    __tablename__ = "strategies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    owner_id: int | None = Field(default=None, index=True)  # users.id (app.db.ownership)
    current_version: int = Field(default=1)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class StrategyVersionRecord(SQLModel, table=True):
    """One saved state of a strategy's code; never changed after it is written."""

    __tablename__ = "strategy_versions"
    __table_args__ = (sa.UniqueConstraint("strategy_id", "version", name="uq_strategy_version"),)

    id: int | None = Field(default=None, primary_key=True)
    strategy_id: int = Field(foreign_key="strategies.id", ondelete="CASCADE", index=True)
    version: int
    code: str = Field(sa_column=Column(sa.Text(), nullable=False))
    code_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class RunRow(SQLModel, table=True):
    """One backtest: what it ran (code, dataset version, config) and how it went."""

    __tablename__ = "runs"

    id: str = Field(primary_key=True, max_length=32)
    status: RunStatus = Field(
        sa_column=Column(RunStatusType(), nullable=False, index=True), default=RunStatus.QUEUED
    )
    owner_id: int | None = Field(default=None, index=True)  # users.id (app.db.ownership)
    strategy_id: int | None = Field(default=None, index=True)
    strategy_version: int | None = None
    strategy_name: str = Field(default="", max_length=200)
    code: str = Field(sa_column=Column(sa.Text(), nullable=False))
    code_hash: str = Field(max_length=64)
    params: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )
    dataset: str = Field(max_length=200)
    dataset_version: str = Field(default="", max_length=200)
    dataset_hash: str = Field(default="", max_length=80)
    config: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )
    config_hash: str = Field(default="", max_length=64)
    provenance: dict[str, Any] | None = Field(
        default=None, sa_column=Column(StorableJSON(), nullable=True)
    )  # app.runs.record.provenance: hashes, version and commit (None for runs stored before)
    pct: float = 0.0
    bars_done: int = 0
    bars_total: int = 0
    metrics: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: dict[str, Any] | None = Field(
        default=None, sa_column=Column(StorableJSON(), nullable=True)
    )  # from the worker or the parent's own errors: text never trusted (see `storable`)
    logs_dropped: int = 0
    attempt: int = Field(
        default=0, sa_column=Column(sa.Integer(), nullable=False, server_default="0")
    )  # times a worker started it: only that attempt may end it (app.db.crud.start_run)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    started_at: datetime | None = _time_column(nullable=True)
    finished_at: datetime | None = _time_column(nullable=True)


class RunEquityRecord(SQLModel, table=True):
    """A run's bar-by-bar equity curve as compressed arrays (times in epoch ns)."""

    __tablename__ = "run_equity"

    run_id: str = Field(primary_key=True, foreign_key="runs.id", ondelete="CASCADE", max_length=32)
    points: int
    time: bytes = Field(sa_column=Column(sa.LargeBinary(), nullable=False))
    equity: bytes = Field(sa_column=Column(sa.LargeBinary(), nullable=False))
    position: bytes = Field(sa_column=Column(sa.LargeBinary(), nullable=False))


class TradeRecord(SQLModel, table=True):
    """One closed trade of a run (see app.engine.Trade for the conventions)."""

    __tablename__ = "trades"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE", index=True, max_length=32)
    seq: int
    entry_time: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    exit_time: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    entry_index: int
    exit_index: int
    side: str = Field(max_length=8)
    size: float
    entry_price: float
    exit_price: float
    pnl: float
    fees: float
    exit_reason: str = Field(max_length=16)


class OrderRecordRow(SQLModel, table=True):
    """The final state of one order of a run (see app.engine.OrderRecord)."""

    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE", index=True, max_length=32)
    order_id: int
    created_time: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    created_index: int
    side: str = Field(max_length=8)
    type: str = Field(max_length=8)
    amount: float
    limit_price: float | None = None
    stop_price: float | None = None
    leverage: float
    stop_loss: float | None = None
    take_profit: float | None = None
    status: str = Field(max_length=16)
    filled_time: int | None = Field(default=None, sa_column=Column(sa.BigInteger()))
    filled_price: float | None = None
    filled_amount: float
    fee: float
    reason: str = Field(sa_column=Column(StorableText(), nullable=False))


class LogRecord(SQLModel, table=True):
    """One line the strategy (or the engine on its behalf) logged during a run."""

    __tablename__ = "run_logs"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE", index=True, max_length=32)
    seq: int
    time: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    bar_index: int
    level: str = Field(max_length=8)
    message: str = Field(sa_column=Column(StorableText(), nullable=False))


class SweepRow(SQLModel, table=True):
    """One parameter sweep (or walk-forward): what it searches, how far it got, its best.

    The trials themselves are SweepTrialRow rows; the Optuna study that drives the search is
    stored in the same database under `study_name` (Optuna's own tables), which is what lets
    a restarted server resume it (app.jobs.sweeps).
    """

    __tablename__ = "sweeps"

    id: str = Field(primary_key=True, max_length=32)
    kind: str = Field(default="sweep", max_length=16)
    status: RunStatus = Field(
        sa_column=Column(RunStatusType(), nullable=False, index=True), default=RunStatus.QUEUED
    )
    owner_id: int | None = Field(default=None, index=True)  # users.id (app.db.ownership)
    strategy_id: int | None = Field(default=None, index=True)
    strategy_version: int | None = None
    strategy_name: str = Field(default="", max_length=200)
    code: str = Field(sa_column=Column(sa.Text(), nullable=False))
    code_hash: str = Field(max_length=64)
    dataset: str = Field(max_length=200)
    dataset_version: str = Field(default="", max_length=200)
    dataset_hash: str = Field(default="", max_length=80)
    run_order: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )  # the run options, start and end (epoch ns) every trial shares
    config: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )  # the base RunConfig (default params), RunConfig.to_dict()
    spec: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )  # the SweepSpec as plain data (app.jobs.sweep_spec)
    study_name: str = Field(max_length=200)
    trials_done: int = 0
    trials_total: int | None = None
    trials_per_s: float = 0.0
    eta_s: float | None = None
    best: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(StorableJSON(), nullable=True)
    )  # the best trial (the Pareto front for two objectives), as trial rows
    statistics: dict[str, Any] | None = Field(
        default=None, sa_column=Column(StorableJSON(), nullable=True)
    )  # app.research.overfitting.sweep_statistics of the finished sweep
    error: dict[str, Any] | None = Field(
        default=None, sa_column=Column(StorableJSON(), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    started_at: datetime | None = _time_column(nullable=True)
    finished_at: datetime | None = _time_column(nullable=True)


class SweepTrialRow(SQLModel, table=True):
    """One finished trial of a sweep: its params, the metrics a standalone run gives them,
    whether it met the constraints, and its objective values (None when infeasible/failed)."""

    __tablename__ = "sweep_trials"
    __table_args__ = (sa.UniqueConstraint("sweep_id", "number", name="uq_sweep_trial_number"),)

    id: int | None = Field(default=None, primary_key=True)
    sweep_id: str = Field(foreign_key="sweeps.id", ondelete="CASCADE", index=True, max_length=32)
    number: int
    params: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )
    metrics: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )
    feasible: bool = False
    error: str | None = Field(default=None, sa_column=Column(StorableText(), nullable=True))
    infeasible_reason: str | None = Field(
        default=None, sa_column=Column(StorableText(), nullable=True)
    )
    objective_values: list[float | None] | None = Field(
        default=None, sa_column=Column(StorableJSON(), nullable=True)
    )
