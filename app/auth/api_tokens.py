"""API tokens for the CLI and scripts: issued (shown once), listed, resolved, revoked.

Only the token's SHA-256 is stored (`app.auth.credentials`), with its first characters to tell
tokens apart in lists. A token acts for its user with the user's rights; it stops working
when revoked, when it expires (if it was given a lifetime), or when its user is disabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.auth.credentials import API_TOKEN_SHOWN_CHARS, digest, new_api_token
from app.auth.errors import AccountInputError
from app.db.accounts import ApiTokenRecord, UserRecord
from app.db.errors import RecordNotFoundError
from app.db.models import utc_now

MAX_NAME_CHARS: Final = 100
LAST_USED_RESOLUTION: Final = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `token` is shown to its user once and never again."""

    token: str
    record: ApiTokenRecord


def issue_token(
    session: Session, *, user_id: int, name: str, lifetime_days: int | None = None
) -> IssuedToken:
    """A new API token for `user_id`, named so its user can tell it from others."""
    label = name.strip()
    if not label or len(label) > MAX_NAME_CHARS or "\x00" in label:
        raise AccountInputError(
            "name", f"name the token with 1-{MAX_NAME_CHARS} characters, e.g. 'laptop CLI'"
        )
    if lifetime_days is not None and not 1 <= lifetime_days <= 3650:
        raise AccountInputError("lifetime_days", "a token lives 1-3650 days (or leave it unset)")
    token = new_api_token()
    now = utc_now()
    record = ApiTokenRecord(
        user_id=user_id,
        name=label,
        prefix=token[:API_TOKEN_SHOWN_CHARS],
        token_hash=digest(token),
        created_at=now,
        expires_at=now + timedelta(days=lifetime_days) if lifetime_days else None,
    )
    session.add(record)
    session.flush()
    return IssuedToken(token=token, record=record)


def resolve_token(session: Session, *, token: str) -> tuple[ApiTokenRecord, UserRecord] | None:
    """The live token and its (enabled) user, or None; touches last_used_at."""
    found = session.exec(
        select(ApiTokenRecord).where(col(ApiTokenRecord.token_hash) == digest(token))
    ).first()
    now = utc_now()
    if found is None or found.revoked_at is not None:
        return None
    if found.expires_at is not None and now >= found.expires_at:
        return None
    user = session.get(UserRecord, found.user_id)
    if user is None or user.is_disabled or user.is_local:
        return None
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        session.execute(
            update(ApiTokenRecord)
            .where(col(ApiTokenRecord.id) == found.id)
            .values(last_used_at=now)
        )
    return found, user


def list_tokens(session: Session, *, user_id: int) -> Sequence[ApiTokenRecord]:
    """A user's tokens (revoked ones too, marked), newest first."""
    query = (
        select(ApiTokenRecord)
        .where(col(ApiTokenRecord.user_id) == user_id)
        .order_by(col(ApiTokenRecord.created_at).desc(), col(ApiTokenRecord.id).desc())
    )
    return session.exec(query).all()


def revoke_token(session: Session, *, user_id: int, token_id: int) -> ApiTokenRecord:
    """Revoke one of `user_id`'s tokens (RecordNotFoundError when it is not theirs)."""
    record = session.get(ApiTokenRecord, token_id)
    if record is None or record.user_id != user_id:
        raise RecordNotFoundError("API token", token_id)
    if record.revoked_at is None:
        record.revoked_at = utc_now()
        session.add(record)
        session.flush()
    return record
