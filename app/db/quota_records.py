"""The stored per-user quota overrides the operator sets (app.jobs.quotas reads them)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Column, Field, SQLModel

from app.db.models import UTCDateTime


class UserQuotaRecord(SQLModel, table=True):
    """One user's quota overrides; a NULL field means "the default from Settings".

    Units: `cpu_seconds_per_day` in CPU-seconds per UTC day, `storage_mb` in MiB (datasets plus
    run folders), `sweep_trials` in trials per sweep, `concurrent_runs` in runs queued or running,
    `concurrent_sweeps` in sweeps (walk-forwards included) queued or running.
    """

    __tablename__ = "user_quotas"

    user_id: int = Field(primary_key=True, foreign_key="users.id", ondelete="CASCADE")
    concurrent_runs: int | None = None
    cpu_seconds_per_day: float | None = None
    storage_mb: int | None = None
    sweep_trials: int | None = None
    concurrent_sweeps: int | None = None
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
