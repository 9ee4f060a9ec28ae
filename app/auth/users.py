"""Accounts: create, find, list, disable and reset users; the local user and the first admin.

User names are 1-64 characters of lowercase letters, digits, `.`, `_` and `-`, starting with
a letter or digit, stored lowercased (`Alice` and `alice` are one account). Disabling a user
or resetting their password ends their sessions and, for disabling, revokes their API tokens.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from typing import Final

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.auth.errors import AccountInputError, UnknownUserError
from app.auth.passwords import hash_password, unusable_hash
from app.db.accounts import ApiTokenRecord, UserRecord, UserSessionRecord
from app.db.models import utc_now

USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
LOCAL_USERNAME: Final = "local"
FIRST_ADMIN_USERNAME: Final = "admin"
GENERATED_PASSWORD_BYTES: Final = 18  # 24 URL-safe characters, 144 bits


def normalized_username(username: str) -> str:
    """`username` stripped and lowercased, or AccountInputError saying what is wrong."""
    name = username.strip().lower()
    if not USERNAME.fullmatch(name):
        raise AccountInputError(
            "username",
            f"{username[:80]!r} is not a user name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    return name


def generated_password() -> str:
    """A random password for the operator to hand over (printed once, never stored)."""
    return secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)


def find_user(session: Session, *, username: str) -> UserRecord | None:
    """The user of that name (any case), or None."""
    name = username.strip().lower()
    return session.exec(select(UserRecord).where(col(UserRecord.username) == name)).first()


def get_user(session: Session, *, username: str) -> UserRecord:
    """The user of that name, or UnknownUserError."""
    user = find_user(session, username=username)
    if user is None:
        raise UnknownUserError(username)
    return user


def list_users(session: Session) -> Sequence[UserRecord]:
    """Every user, by name."""
    return session.exec(select(UserRecord).order_by(col(UserRecord.username))).all()


def create_user(
    session: Session, *, username: str, password: str, is_admin: bool = False
) -> UserRecord:
    """A new account; AccountInputError for a bad or taken name or a too short password."""
    name = normalized_username(username)
    if find_user(session, username=name) is not None:
        raise AccountInputError("username", f"the user name {name!r} is taken: choose another")
    now = utc_now()
    user = UserRecord(
        username=name,
        password_hash=hash_password(password),
        is_admin=is_admin,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    session.flush()
    return user


def set_disabled(session: Session, *, username: str, is_disabled: bool) -> UserRecord:
    """Disable (ending every session and revoking every API token) or re-enable a user."""
    user = get_user(session, username=username)
    user.is_disabled = is_disabled
    session.add(user)
    if is_disabled and user.id is not None:
        end_sessions(session, user_id=user.id)
        now = utc_now()
        session.execute(
            update(ApiTokenRecord)
            .where(col(ApiTokenRecord.user_id) == user.id, col(ApiTokenRecord.revoked_at).is_(None))
            .values(revoked_at=now)
        )
    session.flush()
    return user


def reset_password(session: Session, *, username: str, password: str | None = None) -> str:
    """Set a new password (a generated one when None, returned to be shown once) and end the
    user's sessions; API tokens stay valid (revoke them separately)."""
    user = get_user(session, username=username)
    chosen = password if password is not None else generated_password()
    user.password_hash = hash_password(chosen)
    user.password_changed_at = utc_now()
    session.add(user)
    if user.id is not None:
        end_sessions(session, user_id=user.id)
    session.flush()
    return chosen


def end_sessions(session: Session, *, user_id: int) -> int:
    """Revoke every open session of a user; returns how many were open."""
    result = session.execute(
        update(UserSessionRecord)
        .where(col(UserSessionRecord.user_id) == user_id)
        .where(col(UserSessionRecord.revoked_at).is_(None))
        .values(revoked_at=utc_now())
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def ensure_local_user(session: Session) -> UserRecord:
    """The loopback single user (an admin without a usable password), created if missing."""
    found = session.exec(select(UserRecord).where(col(UserRecord.is_local))).first()
    if found is not None:
        return found
    now = utc_now()
    user = UserRecord(
        username=LOCAL_USERNAME if find_user(session, username=LOCAL_USERNAME) is None else "",
        password_hash=unusable_hash(),  # no password matches it
        is_admin=True,
        is_local=True,
        created_at=now,
        password_changed_at=now,
    )
    if not user.username:
        user.username = f"{LOCAL_USERNAME}-{secrets.token_hex(3)}"
    session.add(user)
    session.flush()
    return user


def set_up_first_admin(session: Session) -> tuple[str, str] | None:
    """When no account but the local user exists: create the `admin` account with a
    generated password and return (name, password) to print once; else None."""
    exists = session.exec(select(UserRecord.id).where(~col(UserRecord.is_local))).first()
    if exists is not None:
        return None
    password = generated_password()
    create_user(session, username=FIRST_ADMIN_USERNAME, password=password, is_admin=True)
    return FIRST_ADMIN_USERNAME, password
