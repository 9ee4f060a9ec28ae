"""The stored account records: users, their sessions and API tokens, dataset owners, audit log.

Secrets are never stored: a session row is keyed by the SHA-256 of its cookie value and an API
token row holds the SHA-256 of the token (both are 256-bit random strings, so a fast hash is
enough; passwords, which are not random, get argon2id in `app.auth.passwords`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from app.db.models import StorableJSON, UTCDateTime


class UserRecord(SQLModel, table=True):
    """One account. `is_local` marks the single user signed in automatically on loopback."""

    __tablename__ = "users"
    __table_args__ = (sa.UniqueConstraint("username", name="uq_users_username"),)

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64)
    password_hash: str = Field(sa_column=Column(sa.Text(), nullable=False))
    is_admin: bool = False
    is_disabled: bool = False
    is_local: bool = False
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    password_changed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_login_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class UserSessionRecord(SQLModel, table=True):
    """A signed-in browser: `id` is the SHA-256 (hex) of the session cookie's value."""

    __tablename__ = "user_sessions"

    id: str = Field(primary_key=True, max_length=64)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    client: str = Field(default="", max_length=200)


class ApiTokenRecord(SQLModel, table=True):
    """A token for programs (`Authorization: Bearer`); only its SHA-256 (hex) is kept."""

    __tablename__ = "api_tokens"
    __table_args__ = (sa.UniqueConstraint("token_hash", name="uq_api_tokens_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16)  # the token's first characters, to recognise it in lists
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class DatasetOwnerRecord(SQLModel, table=True):
    """Who imported a stored dataset; datasets without a row (samples, operator imports) are
    shared read-only."""

    __tablename__ = "dataset_owners"

    name: str = Field(primary_key=True, max_length=200)
    owner_id: int = Field(foreign_key="users.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AuditRecord(SQLModel, table=True):
    """One audited event: who (`actor`, kept as text so it outlives the user), did what
    (`action`, e.g. "sign_in"), with what outcome ("ok", "failed", "denied"), to what."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    time: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor_id: int | None = Field(default=None, index=True)
    actor: str = Field(default="", max_length=64)
    action: str = Field(max_length=40, index=True)
    outcome: str = Field(default="ok", max_length=16)
    target: str = Field(default="", max_length=200)
    client: str = Field(default="", max_length=200)
    detail: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(StorableJSON(), nullable=False)
    )
