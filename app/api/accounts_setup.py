"""Wiring accounts into the app: the access middleware, the account routes, the local user,
and the first admin's set-up (its password printed once by `strategylab serve`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from app.api.access import AccessMiddleware
from app.api.routes import admin, auth
from app.api.routes.auth import session_policy
from app.auth import Principal, SignedInBy
from app.auth.users import ensure_local_user, set_up_first_admin
from app.db.session import session_scope
from app.settings import Settings

logger = logging.getLogger(__name__)


def include_account_routes(
    app: FastAPI, responses: dict[int | str, dict[str, Any]] | None = None
) -> None:
    """The sign-in page and the account and admin routes (`responses`: the answers every
    route may give, such as 400 for an unparseable body)."""
    app.include_router(auth.router, responses=responses)
    app.include_router(admin.router, responses=responses)


def add_access_middleware(app: FastAPI, settings: Settings) -> None:
    """Every request gets its user, or is refused (`app.api.access`)."""
    app.add_middleware(
        AccessMiddleware,
        requires_accounts=settings.requires_accounts,
        policy=session_policy(settings),
    )


def local_principal(engine: Engine) -> Principal:
    """The loopback single user (created on first start), signed in automatically."""
    with session_scope(engine) as session:
        user = ensure_local_user(session)
        return Principal(
            user_id=user.id or 0,
            username=user.username,
            is_admin=True,
            signed_in_by=SignedInBy.LOCAL,
        )


def first_admin(engine: Engine) -> tuple[str, str] | None:
    """Creates the `admin` account when there is no account yet: (name, password) to print
    once, or None (also when another server process created it at the same moment)."""
    try:
        with session_scope(engine) as session:
            return set_up_first_admin(session)
    except IntegrityError:
        logger.info("the first admin was created by another process")
        return None
