"""Admin routes: users (list, create, disable, enable, reset password) and the audit log.

Only admins reach them; anyone else is answered 404, as if they did not exist. Each change
is written to the audit log with the admin who made it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, status
from pydantic import BeforeValidator
from sqlmodel import Session

from app.api.account_schemas import AuditOut, PasswordReset, UserCreate, UserCreated, UserOut
from app.api.deps import AdminDep, OperatorEngineDep
from app.api.schemas import ErrorOut
from app.auth import Principal
from app.auth.audit import AuditAction, list_events, record_event
from app.auth.users import (
    create_user,
    generated_password,
    get_user,
    list_users,
    reset_password,
    set_disabled,
)
from app.db.accounts import UserRecord
from app.db.session import session_scope

router = APIRouter(tags=["admin"])
Username = Annotated[str, Path(min_length=1, max_length=64)]
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}
ISO_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_text(value: object) -> object:
    """Only an ISO 8601 text is a time here (pydantic would read "0.5" as epoch seconds)."""
    if isinstance(value, str) and not ISO_DATE.match(value):
        raise ValueError("give the time as ISO 8601, e.g. 2026-12-01T00:00:00Z")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso_text)]


def user_out(user: UserRecord) -> UserOut:
    return UserOut(
        id=user.id or 0,
        username=user.username,
        is_admin=user.is_admin,
        is_disabled=user.is_disabled,
        is_local=user.is_local,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


def _log(session: Session, admin: Principal, action: AuditAction, target: str) -> None:
    record_event(
        session, action=action, actor=admin.username, actor_id=admin.user_id, target=target
    )


@router.get("/api/admin/users")
def get_users(admin: AdminDep, engine: OperatorEngineDep) -> list[UserOut]:
    """Every account."""
    with session_scope(engine) as session:
        return [user_out(u) for u in list_users(session)]


@router.post("/api/admin/users", status_code=status.HTTP_201_CREATED)
def add_user(body: UserCreate, admin: AdminDep, engine: OperatorEngineDep) -> UserCreated:
    """Create an account; without a password one is generated and answered this once."""
    password = body.password if body.password is not None else generated_password()
    with session_scope(engine) as session:
        user = create_user(
            session, username=body.username, password=password, is_admin=body.is_admin
        )
        _log(session, admin, AuditAction.USER_CREATED, f"user {user.username}")
        shown = None if body.password is not None else password
        return UserCreated(**user_out(user).model_dump(), password=shown)


@router.post("/api/admin/users/{username}/disable", responses=NOT_FOUND)
def disable_user(username: Username, admin: AdminDep, engine: OperatorEngineDep) -> UserOut:
    """Disable an account: its sessions end and its API tokens are revoked at once."""
    with session_scope(engine) as session:
        user = set_disabled(session, username=username, is_disabled=True)
        _log(session, admin, AuditAction.USER_DISABLED, f"user {user.username}")
        return user_out(user)


@router.post("/api/admin/users/{username}/enable", responses=NOT_FOUND)
def enable_user(username: Username, admin: AdminDep, engine: OperatorEngineDep) -> UserOut:
    """Re-enable a disabled account (its old tokens stay revoked)."""
    with session_scope(engine) as session:
        user = set_disabled(session, username=username, is_disabled=False)
        _log(session, admin, AuditAction.USER_ENABLED, f"user {user.username}")
        return user_out(user)


@router.post("/api/admin/users/{username}/reset-password", responses=NOT_FOUND)
def reset_user_password(
    username: Username, body: PasswordReset, admin: AdminDep, engine: OperatorEngineDep
) -> UserCreated:
    """Set a new password (generated and answered once when not given); ends the user's
    sessions."""
    with session_scope(engine) as session:
        get_user(session, username=username)
        password = reset_password(session, username=username, password=body.password)
        user = get_user(session, username=username)
        _log(session, admin, AuditAction.PASSWORD_RESET, f"user {user.username}")
        shown = None if body.password is not None else password
        return UserCreated(**user_out(user).model_dump(), password=shown)


@router.get("/api/admin/audit")
def get_audit(
    admin: AdminDep,
    engine: OperatorEngineDep,
    action: Annotated[AuditAction | None, Query(description="Only this action.")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="Only this user.")] = None,
    since: Annotated[IsoTime | None, Query(description="Only from this time on (UTC).")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[AuditOut]:
    """The audit log, newest first (a `since` without a time zone is read as UTC)."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    with session_scope(engine) as session:
        rows = list_events(
            session, action=action, actor=actor, since=since, limit=limit, offset=offset
        )
        return [
            AuditOut(
                id=r.id or 0,
                time=r.time,
                actor=r.actor,
                actor_id=r.actor_id,
                action=r.action,
                outcome=r.outcome,
                target=r.target,
                client=r.client,
                detail=dict(r.detail),
            )
            for r in rows
        ]
