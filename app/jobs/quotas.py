"""Per-user quotas: the limits in force (Settings defaults, operator overrides), usage, refusals.

Five quotas, each refused with the figure and the limit in one sentence:
- concurrent runs: runs the user has queued or running at once;
- CPU-seconds per UTC day: the time the user's runs spent executing today. A run executes in
  one single-threaded sandbox process, so its wall time from start to end is an upper bound of
  the CPU it used (and what it kept a worker from doing); a running run counts up to now;
- storage: bytes of the user's run folders (<runs_dir>/<run id>/) plus the user's datasets;
- sweep size: trials in one sweep or folds in one walk-forward;
- concurrent sweeps: sweeps and walk-forwards the user has queued or running at once.
The operator sets a user's limits with `strategylab quotas set` (a NULL field keeps the
default). Usage is counted from the database, so every web node refuses the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from sqlmodel import Session, col, func, select

from app.data.catalog import DatasetCatalog
from app.data.errors import DataError
from app.db.accounts import DatasetOwnerRecord
from app.db.models import RunRow, RunStatus, SweepRow, utc_now
from app.db.quota_records import UserQuotaRecord
from app.settings import Settings

ACTIVE: Final = (RunStatus.QUEUED, RunStatus.RUNNING)
MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    """One user's limits: runs at once, CPU-seconds per UTC day, MiB stored, trials per sweep,
    sweeps at once (walk-forwards included)."""

    concurrent_runs: int
    cpu_seconds_per_day: float
    storage_mb: int
    sweep_trials: int
    concurrent_sweeps: int

    @classmethod
    def from_settings(cls, settings: Settings) -> QuotaLimits:
        """The defaults every user has unless the operator set otherwise."""
        return cls(
            concurrent_runs=settings.quota_concurrent_runs,
            cpu_seconds_per_day=settings.quota_cpu_seconds_per_day,
            storage_mb=settings.quota_storage_mb,
            sweep_trials=settings.quota_sweep_trials,
            concurrent_sweeps=settings.quota_concurrent_sweeps,
        )

    def with_overrides(self, record: UserQuotaRecord | None) -> QuotaLimits:
        """These limits with the operator's non-NULL overrides of `record` applied."""
        if record is None:
            return self
        changes = {
            item.name: getattr(record, item.name)
            for item in fields(self)
            if getattr(record, item.name) is not None
        }
        return replace(self, **changes)


class QuotaExceededError(Exception):
    """A request would take a user past one quota (the API answers 429 with `message`)."""

    def __init__(self, quota: str, *, used: float, limit: float, message: str) -> None:
        super().__init__(message)
        self.quota = quota
        self.used = used
        self.limit = limit
        self.message = message


def limits_for(session: Session, *, user_id: int, defaults: QuotaLimits) -> QuotaLimits:
    """The limits in force for `user_id`."""
    return defaults.with_overrides(session.get(UserQuotaRecord, user_id))


def set_limits(
    session: Session,
    *,
    user_id: int,
    concurrent_runs: int | None = None,
    cpu_seconds_per_day: float | None = None,
    storage_mb: int | None = None,
    sweep_trials: int | None = None,
    concurrent_sweeps: int | None = None,
    clear: Iterable[str] = (),
) -> UserQuotaRecord:
    """Set the given overrides of `user_id` (None leaves a field as it is; a name in `clear`
    returns it to the default)."""
    record = session.get(UserQuotaRecord, user_id) or UserQuotaRecord(
        user_id=user_id, updated_at=utc_now()
    )
    values = {
        "concurrent_runs": concurrent_runs,
        "cpu_seconds_per_day": cpu_seconds_per_day,
        "storage_mb": storage_mb,
        "sweep_trials": sweep_trials,
        "concurrent_sweeps": concurrent_sweeps,
    }
    for name, value in values.items():
        if value is not None:
            if value <= 0 or not math.isfinite(value):
                raise ValueError(f"{name.replace('_', '-')} must be a positive number, not {value}")
            setattr(record, name, value)
    for name in clear:
        setattr(record, name, None)
    record.updated_at = utc_now()
    session.add(record)
    session.flush()
    return record


def active_runs(session: Session, *, user_id: int) -> int:
    """Runs of `user_id` queued or running now."""
    query = select(func.count()).where(
        col(RunRow.owner_id) == user_id, col(RunRow.status).in_(ACTIVE)
    )
    return int(session.exec(query).one())


def active_sweeps(session: Session, *, user_id: int) -> int:
    """Sweeps and walk-forwards of `user_id` queued or running now."""
    query = select(func.count()).where(
        col(SweepRow.owner_id) == user_id, col(SweepRow.status).in_(ACTIVE)
    )
    return int(session.exec(query).one())


def day_start(now: datetime) -> datetime:
    """00:00 UTC of `now`'s day."""
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def cpu_seconds_today(session: Session, *, user_id: int, now: datetime) -> float:
    """Seconds the user's runs spent executing since 00:00 UTC (running runs up to `now`)."""
    start = day_start(now)
    query = select(RunRow.started_at, RunRow.finished_at).where(
        col(RunRow.owner_id) == user_id,
        col(RunRow.started_at).is_not(None),
        (col(RunRow.finished_at).is_(None)) | (col(RunRow.finished_at) >= start),
    )
    total = 0.0
    for started, finished in session.exec(query).all():
        if started is None:
            continue
        end = finished or now
        total += max((end - max(started, start)).total_seconds(), 0.0)
    return total


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under `folder` (0 when it does not exist)."""
    if not folder.is_dir():
        return 0
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def storage_bytes(
    session: Session, *, user_id: int, runs_dir: Path | None, catalog: DatasetCatalog
) -> int:
    """Bytes of the user's run folders plus the files of the datasets the user imported."""
    total = 0
    if runs_dir is not None:
        run_ids = session.exec(select(RunRow.id).where(col(RunRow.owner_id) == user_id)).all()
        total += sum(folder_bytes(runs_dir / run_id) for run_id in run_ids)
    names = session.exec(
        select(DatasetOwnerRecord.name).where(col(DatasetOwnerRecord.owner_id) == user_id)
    ).all()
    for name in names:
        try:
            path = catalog.resolve(name).path
        except DataError:
            continue  # deleted since
        total += path.stat().st_size if path.is_file() else folder_bytes(path)
    return total


def check_new_run(
    session: Session,
    *,
    user_id: int,
    limits: QuotaLimits,
    stored_bytes: Callable[[], int],
    in_flight: int = 0,
    now: datetime | None = None,
) -> None:
    """Raise QuotaExceededError when one more run would pass a quota of `user_id`;
    `stored_bytes` measures the user's storage (storage_bytes, or a cached figure of it),
    `in_flight` counts runs admitted and being stored, not yet in the database."""
    now = now or utc_now()
    active = active_runs(session, user_id=user_id) + in_flight
    if active >= limits.concurrent_runs:
        runs = "1 run is" if active == 1 else f"{active:,} runs are"
        raise QuotaExceededError(
            "concurrent_runs",
            used=active,
            limit=limits.concurrent_runs,
            message=f"{runs} queued or running, your limit is {limits.concurrent_runs:,}: "
            "wait for one to finish or cancel one",
        )
    used_s = cpu_seconds_today(session, user_id=user_id, now=now)
    if used_s >= limits.cpu_seconds_per_day:
        resets = (day_start(now) + timedelta(days=1)).strftime("%H:%M UTC")
        raise QuotaExceededError(
            "cpu_seconds_per_day",
            used=used_s,
            limit=limits.cpu_seconds_per_day,
            message=f"your runs used {used_s:,.0f} CPU-seconds today, your limit is "
            f"{limits.cpu_seconds_per_day:,.0f} per day: it resets at {resets}",
        )
    stored = stored_bytes()
    if stored >= limits.storage_mb * MIB:
        raise QuotaExceededError(
            "storage_mb",
            used=stored / MIB,
            limit=limits.storage_mb,
            message=f"your run folders and datasets take {stored / MIB:,.1f} MiB, your limit is "
            f"{limits.storage_mb:,} MiB: delete runs or datasets you no longer need",
        )


def check_sweep_size(trials: int | None, *, limits: QuotaLimits, what: str = "sweep") -> None:
    """Raise QuotaExceededError when a sweep of `trials` trials (None: not counted ahead, the
    sweep stops by time) is larger than the user may run."""
    if trials is not None and trials > limits.sweep_trials:
        raise QuotaExceededError(
            "sweep_trials",
            used=trials,
            limit=limits.sweep_trials,
            message=f"this {what} has {trials:,} trials, your limit is {limits.sweep_trials:,}: "
            "ask for fewer trials (n_trials, a coarser grid or fewer folds)",
        )


def check_new_sweep(session: Session, *, user_id: int, limits: QuotaLimits) -> None:
    """Raise QuotaExceededError when one more sweep or walk-forward of `user_id` would pass
    the concurrent-sweeps quota (the two count together: both keep trial workers busy)."""
    active = active_sweeps(session, user_id=user_id)
    if active >= limits.concurrent_sweeps:
        sweeps = "1 sweep is" if active == 1 else f"{active:,} sweeps are"
        raise QuotaExceededError(
            "concurrent_sweeps",
            used=active,
            limit=limits.concurrent_sweeps,
            message=f"{sweeps} running or queued, your limit is {limits.concurrent_sweeps:,} "
            "(walk-forwards count as sweeps): wait for one to finish or cancel one",
        )
