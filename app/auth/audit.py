"""The audit log: sign-ins (ok and failed), sign-outs, runs and sweeps started, deletions,
and admin actions, one row each; readable by admins (API and `strategylab users audit`).

Rows are only ever added. The actor is kept as text besides its id, so a row still says who
acted after the account changes. Failed sign-ins are also what the sign-in throttle counts
(`app.auth.sign_in`), so the limit holds across every web node sharing the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.db.accounts import AuditRecord
from app.db.models import storable, utc_now

MAX_TEXT_CHARS: Final = 200


class AuditAction(StrEnum):
    """What was done."""

    SIGN_IN = "sign_in"
    SIGN_OUT = "sign_out"
    RUN_STARTED = "run_started"
    SWEEP_STARTED = "sweep_started"
    DATASET_IMPORTED = "dataset_imported"
    DELETED = "deleted"
    USER_CREATED = "user_created"
    USER_DISABLED = "user_disabled"
    USER_ENABLED = "user_enabled"
    PASSWORD_RESET = "password_reset"
    TOKEN_ISSUED = "token_issued"
    TOKEN_REVOKED = "token_revoked"
    SESSION_REVOKED = "session_revoked"


class AuditOutcome(StrEnum):
    """How it went."""

    OK = "ok"
    FAILED = "failed"
    THROTTLED = "throttled"


def record_event(
    session: Session,
    *,
    action: AuditAction,
    actor: str,
    actor_id: int | None = None,
    outcome: AuditOutcome = AuditOutcome.OK,
    target: str = "",
    client: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """Add one row to the log (in the caller's transaction)."""
    row = AuditRecord(
        time=utc_now(),
        actor_id=actor_id,
        actor=storable(actor[:64]),
        action=action.value,
        outcome=outcome.value,
        target=storable(target[:MAX_TEXT_CHARS]),
        client=storable(client[:MAX_TEXT_CHARS]),
        detail=detail or {},
    )
    session.add(row)
    session.flush()
    return row


def list_events(
    session: Session,
    *,
    action: AuditAction | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[AuditRecord]:
    """Audit rows, newest first, optionally of one action, one actor, or from a time on."""
    query = select(AuditRecord)
    if action is not None:
        query = query.where(col(AuditRecord.action) == action.value)
    if actor is not None:
        query = query.where(col(AuditRecord.actor) == actor.strip().lower())
    if since is not None:
        query = query.where(col(AuditRecord.time) >= since)
    query = query.order_by(col(AuditRecord.time).desc(), col(AuditRecord.id).desc())
    return session.exec(query.offset(offset).limit(limit)).all()


def count_failed_sign_ins(
    session: Session, *, since: datetime, actor: str | None = None, client: str | None = None
) -> tuple[int, datetime | None]:
    """Failed sign-ins since `since` for a user name or a client address: (count, oldest)."""
    query = (
        select(func.count(), func.min(AuditRecord.time))
        .where(col(AuditRecord.action) == AuditAction.SIGN_IN.value)
        .where(col(AuditRecord.outcome) == AuditOutcome.FAILED.value)
        .where(col(AuditRecord.time) >= since)
    )
    if actor is not None:
        query = query.where(col(AuditRecord.actor) == actor)
    if client is not None:
        query = query.where(col(AuditRecord.client) == client)
    count, oldest = session.exec(query).one()
    return int(count), oldest
