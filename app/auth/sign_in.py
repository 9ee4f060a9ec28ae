"""Signing in with a user name and password: the throttle, the check, the session, the log.

Throttle: at most `max_failures` failed sign-ins per user name, and `4 * max_failures` per
client address, within `window_s`; past that, attempts are refused without checking the
password until the oldest failure leaves the window. Failures are counted from the audit log,
so the limit is shared by every web node and survives restarts. An unknown user name costs
the same argon2 work as a known one, so timing does not tell which names exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlmodel import Session

from app.auth.audit import AuditAction, AuditOutcome, count_failed_sign_ins, record_event
from app.auth.errors import SignInRefusedError, SignInThrottledError
from app.auth.passwords import (
    MAX_PASSWORD_CHARS,
    hash_password,
    needs_rehash,
    verify_password,
)
from app.auth.sessions import OpenedSession, SessionPolicy, open_session
from app.auth.users import find_user
from app.db.accounts import UserRecord
from app.db.models import utc_now

CLIENT_FAILURES_FACTOR: Final = 4
_DUMMY_HASH: Final = (  # timing equaliser: the argon2id hash, today's parameters, of no password
    "$argon2id$v=19$m=19456,t=2,p=1$qi9jNEojVidoA+Bo+9SNXg$JkPLG7koZw56EPHfs4CRUDTOg7loLd6Yd6B9hyvSpeY"
)


@dataclass(frozen=True, slots=True)
class SignInPolicy:
    """The throttle (`max_failures` in `window_s`) and the sessions sign-in opens."""

    max_failures: int
    window_s: int
    sessions: SessionPolicy


def sign_in(
    session: Session, *, username: str, password: str, client: str, policy: SignInPolicy
) -> tuple[UserRecord, OpenedSession]:
    """Check the password and open a session, or raise (the attempt is logged either way).

    The caller commits; a failure must be committed too (it is what the throttle counts), so
    the errors are raised only after the audit row is flushed."""
    name = username.strip().lower()[:64]
    _check_throttle(session, name=name, client=client, policy=policy)
    user = find_user(session, username=name) if name else None
    if user is None or len(password) > MAX_PASSWORD_CHARS:
        verify_password(_DUMMY_HASH, password[:MAX_PASSWORD_CHARS])
        ok = False
    else:
        ok = verify_password(user.password_hash, password)
    if user is None or not ok or user.is_disabled or user.is_local:
        reason = "unknown user" if user is None else "disabled" if user.is_disabled else "password"
        record_event(
            session,
            action=AuditAction.SIGN_IN,
            actor=name,
            actor_id=user.id if user is not None else None,
            outcome=AuditOutcome.FAILED,
            client=client,
            detail={"reason": reason},
        )
        raise SignInRefusedError
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utc_now()
    session.add(user)
    opened = open_session(session, user=user, policy=policy.sessions, client=client)
    record_event(session, action=AuditAction.SIGN_IN, actor=name, actor_id=user.id, client=client)
    return user, opened


def _check_throttle(session: Session, *, name: str, client: str, policy: SignInPolicy) -> None:
    now = utc_now()
    since = now - timedelta(seconds=policy.window_s)
    by_name = count_failed_sign_ins(session, since=since, actor=name)
    by_client = count_failed_sign_ins(session, since=since, client=client)
    limits = (
        (by_name, policy.max_failures),
        (by_client, policy.max_failures * CLIENT_FAILURES_FACTOR),
    )
    for (failures, oldest), limit in limits:
        if failures >= limit:
            retry = policy.window_s if oldest is None else (oldest - since).total_seconds()
            record_event(
                session,
                action=AuditAction.SIGN_IN,
                actor=name,
                outcome=AuditOutcome.THROTTLED,
                client=client,
            )
            raise SignInThrottledError(
                failures=failures, window_s=policy.window_s, retry_after_s=max(1, math.ceil(retry))
            )
