"""Request and response bodies of the account routes (sign-in, tokens, sessions, admin)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.auth.passwords import MAX_PASSWORD_CHARS

NO_NUL = r"^[^\x00]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types only: true is not 1


class SignInBody(_Strict):
    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


class Me(BaseModel):
    id: int
    username: str
    is_admin: bool
    signed_in_by: str = Field(description="local, session or api_token.")
    accounts: bool = Field(description="True when this server requires signing in.")
    csrf_token: str | None = Field(
        default=None, description="Send as X-CSRF-Token with state-changing requests."
    )


class TokenCreate(_Strict):
    name: str = Field(min_length=1, max_length=100, pattern=NO_NUL)
    lifetime_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The token's first characters, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class TokenIssued(TokenOut):
    token: str = Field(description="Shown this once: store it now, it cannot be read again.")


class SessionOut(BaseModel):
    id: str = Field(description="A handle to revoke the session with (not the cookie).")
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client: str
    is_current: bool


class UserOut(BaseModel):
    id: int
    username: str
    is_admin: bool
    is_disabled: bool
    is_local: bool
    created_at: datetime
    last_login_at: datetime | None


class UserCreate(_Strict):
    username: str = Field(min_length=1, max_length=64, pattern=NO_NUL)
    password: str | None = Field(
        default=None,
        max_length=MAX_PASSWORD_CHARS,
        description="Leave out to have one generated (answered once).",
    )
    is_admin: bool = False


class PasswordReset(_Strict):
    password: str | None = Field(
        default=None, max_length=MAX_PASSWORD_CHARS, description="Leave out to generate one."
    )


class UserCreated(UserOut):
    password: str | None = Field(
        default=None, description="The generated password, shown this once (None if given)."
    )


class AuditOut(BaseModel):
    id: int
    time: datetime
    actor: str
    actor_id: int | None
    action: str
    outcome: str
    target: str
    client: str
    detail: dict[str, object]
