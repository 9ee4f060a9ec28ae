"""Who a request acts for: the signed-in user, how they proved it, and what they may reach."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from app.db.ownership import OwnerScope


class SignedInBy(StrEnum):
    """How a request proved who it is."""

    LOCAL = "local"  # loopback single-user mode: the local user, signed in automatically
    SESSION = "session"  # the browser's session cookie (state changes need the CSRF token)
    API_TOKEN = "api_token"  # Authorization: Bearer <API token>


@dataclass(frozen=True, slots=True)
class Principal:
    """The user a request acts for. `session_id` is the session row's id (the digest of the
    cookie) when signed in by session; `csrf_token` is that session's CSRF token."""

    user_id: int
    username: str
    is_admin: bool
    signed_in_by: SignedInBy
    session_id: str | None = None
    csrf_token: str | None = None

    @property
    def owner_scope(self) -> OwnerScope:
        """The records this user's requests may reach: their own, or all for an admin."""
        return OwnerScope(user_id=self.user_id, sees_all=self.is_admin)
