"""Server-side sessions: open one at sign-in, resolve the cookie of each request, end them.

The cookie holds a random secret; the session row is keyed by its SHA-256, so a stolen
database does not yield working cookies. A session ends when it is revoked (sign-out, the
operator disabling the user or resetting the password), when it has been idle longer than
`idle_s`, or `lifetime_s` after it opened, whichever comes first. Each session has its own
CSRF token, which the page echoes in the `X-CSRF-Token` header of state-changing requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.auth.credentials import digest, new_secret
from app.db.accounts import UserRecord, UserSessionRecord
from app.db.models import utc_now

LAST_SEEN_RESOLUTION: Final = timedelta(seconds=60)  # last_seen_at is written at most this often
MAX_CLIENT_CHARS: Final = 200


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    """How long sessions last: `idle_s` without a request, `lifetime_s` at most."""

    idle_s: int
    lifetime_s: int


@dataclass(frozen=True, slots=True)
class OpenedSession:
    """A new session: the cookie value (shown to the browser only) and its stored row."""

    cookie_value: str
    record: UserSessionRecord


def open_session(
    session: Session, *, user: UserRecord, policy: SessionPolicy, client: str
) -> OpenedSession:
    """A new session for `user` (already authenticated)."""
    if user.id is None:
        raise ValueError("the user must be stored before a session opens")
    cookie_value = new_secret()
    now = utc_now()
    record = UserSessionRecord(
        id=digest(cookie_value),
        user_id=user.id,
        csrf_token=new_secret(),
        created_at=now,
        expires_at=now + timedelta(seconds=policy.lifetime_s),
        last_seen_at=now,
        client=client[:MAX_CLIENT_CHARS],
    )
    session.add(record)
    session.flush()
    return OpenedSession(cookie_value=cookie_value, record=record)


def resolve_session(
    session: Session, *, cookie_value: str, policy: SessionPolicy
) -> tuple[UserSessionRecord, UserRecord] | None:
    """The live session and its (enabled) user for a cookie, or None; touches last_seen_at."""
    record = session.get(UserSessionRecord, digest(cookie_value))
    if record is None or not is_live(record, policy=policy, now=utc_now()):
        return None
    user = session.get(UserRecord, record.user_id)
    if user is None or user.is_disabled or user.is_local:
        return None
    now = utc_now()
    if now - record.last_seen_at >= LAST_SEEN_RESOLUTION:
        session.execute(
            update(UserSessionRecord)
            .where(col(UserSessionRecord.id) == record.id)
            .values(last_seen_at=now)
        )
    return record, user


def is_live(record: UserSessionRecord, *, policy: SessionPolicy, now: datetime) -> bool:
    """True when the session is neither revoked, nor past its lifetime, nor idle too long."""
    return (
        record.revoked_at is None
        and now < record.expires_at
        and now - record.last_seen_at < timedelta(seconds=policy.idle_s)
    )


def end_session(session: Session, *, session_id: str, user_id: int | None = None) -> bool:
    """Revoke one session (only `user_id`'s when given); True if it was open."""
    statement = (
        update(UserSessionRecord)
        .where(col(UserSessionRecord.id) == session_id)
        .where(col(UserSessionRecord.revoked_at).is_(None))
    )
    if user_id is not None:
        statement = statement.where(col(UserSessionRecord.user_id) == user_id)
    result = session.execute(statement.values(revoked_at=utc_now()))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_open_sessions(
    session: Session, *, user_id: int, policy: SessionPolicy
) -> Sequence[UserSessionRecord]:
    """A user's live sessions, newest first."""
    query = (
        select(UserSessionRecord)
        .where(col(UserSessionRecord.user_id) == user_id)
        .where(col(UserSessionRecord.revoked_at).is_(None))
        .order_by(col(UserSessionRecord.created_at).desc())
    )
    now = utc_now()
    return [r for r in session.exec(query).all() if is_live(r, policy=policy, now=now)]
