"""Who is asking: every request and websocket handshake gets its user here, or is refused.

Two modes (`Settings.requires_accounts`):
- loopback (the embedded default): the single local user (`app.auth.users.ensure_local_user`,
  an admin) is signed in automatically, as before accounts existed;
- accounts (any other bind, or `STRATEGYLAB_ACCOUNTS=on`): a request proves its user with
  `Authorization: Bearer <API token>` (programs) or the `strategylab_session` cookie (the
  browser, after signing in at /login). A Bearer header that does not resolve is refused even
  when a cookie would, so a script never silently acts as whoever is signed in.

Refusals: a page (GET, not under /api/) without a user is redirected (303) to /login; an API
request answers 401 and a websocket handshake is closed (1008). The sign-in page, its POST,
/api/health and /static/* are open. A state-changing request (any method but GET, HEAD,
OPTIONS) signed in by session must carry the session's CSRF token in `X-CSRF-Token` (the
page's scripts read it from the `strategylab_csrf` cookie; `static/js/api.js`), or it answers
403. API tokens are not sent by browsers on their own, so their requests need no CSRF token;
the cross-site check (`app.api.origins`) runs before this in every mode.

The user found is put in the ASGI scope (`principal_of`); `app.api.deps` confines every
database query of the request to that user's records (`app.db.ownership`).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from typing import Final
from urllib.parse import quote

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import refuse
from app.auth import Principal, SignedInBy
from app.auth.api_tokens import resolve_token
from app.auth.credentials import same_secret
from app.auth.sessions import SessionPolicy, resolve_session
from app.db.session import session_scope

PRINCIPAL_KEY: Final = "strategylab.principal"
SESSION_COOKIE: Final = "strategylab_session"
CSRF_COOKIE: Final = "strategylab_csrf"
CSRF_HEADER: Final = "x-csrf-token"
LOGIN_PATH: Final = "/login"
OPEN_PATHS: Final = frozenset({LOGIN_PATH, "/api/auth/login", "/api/health", "/favicon.ico"})
OPEN_PREFIXES: Final = ("/static/",)
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
NEEDED: Final = (
    "sign in first: open /login in a browser, or send Authorization: Bearer <API token> "
    "(create one with POST /api/auth/tokens or `strategylab users token`)"
)
BAD_TOKEN: Final = (
    "the API token is unknown, revoked or expired, or its user is disabled: create a new one"
)
BAD_CSRF: Final = (
    "the CSRF token is missing or wrong: reload the page (it sends the token of your session "
    "in the X-CSRF-Token header)"
)


def principal_of(scope: Scope) -> Principal | None:
    """The user this request acts for (set by `AccessMiddleware`), or None on open paths."""
    found = scope.get(PRINCIPAL_KEY)
    return found if isinstance(found, Principal) else None


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers, lowercased names, latin-1 decoded (the last of repeats wins)."""
    return {
        bytes(key).decode("latin-1").lower(): bytes(value).decode("latin-1")
        for key, value in scope.get("headers", [])
    }


def request_cookie(scope: Scope, name: str) -> str | None:
    """One cookie of the request, or None (also for an unparseable Cookie header)."""
    try:
        cookie = SimpleCookie(request_headers(scope).get("cookie", ""))
    except CookieError:
        return None
    return str(cookie[name].value) if name in cookie else None


def bearer_token(scope: Scope) -> str | None:
    """The token of an `Authorization: Bearer` header, or None when there is none."""
    authorization = request_headers(scope).get("authorization", "")
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def client_address(scope: Scope) -> str:
    """The client's network address as the server sees it ("unknown" when not known)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def is_open_path(path: str) -> bool:
    """True for what anyone may fetch: the sign-in page and its POST, health, static files."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


def login_redirect(scope: Scope) -> str:
    """Where a page request without a user goes: /login, remembering the page (a local path)."""
    path = "/" + quote(str(scope.get("path", "/")), safe="/%!$&'()*+,;=:@-._~").lstrip("/")
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    wanted = f"{path}?{query}" if query else path
    return f"{LOGIN_PATH}?next={quote(wanted, safe='')}" if wanted != "/" else LOGIN_PATH


class AccessMiddleware:
    """Finds the request's user (see the module docstring) or refuses the request."""

    def __init__(self, app: ASGIApp, *, requires_accounts: bool, policy: SessionPolicy) -> None:
        self.app = app
        self.requires_accounts = requires_accounts
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        if not self.requires_accounts:  # set by the lifespan (app.api.accounts_setup)
            scope[PRINCIPAL_KEY] = getattr(scope["app"].state, "local_principal", None)
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        token = bearer_token(scope)
        principal = await self._resolve(scope, token)
        if principal is None and token is not None and not is_open_path(path):
            await refuse(scope, receive, send, status=401, message=BAD_TOKEN, headers=_CHALLENGE)
        elif principal is None and not is_open_path(path):
            await self._refuse_anonymous(scope, receive, send)
        elif principal is not None and not _has_csrf(scope, principal):
            await refuse(scope, receive, send, status=403, message=BAD_CSRF)
        else:
            if principal is not None:
                scope[PRINCIPAL_KEY] = principal
            await self.app(scope, receive, send)

    async def _resolve(self, scope: Scope, token: str | None) -> Principal | None:
        if token is not None:
            return await run_in_threadpool(principal_by_token, _engine(scope), token)
        cookie = request_cookie(scope, SESSION_COOKIE)
        if cookie is None:
            return None
        return await run_in_threadpool(principal_by_session, _engine(scope), cookie, self.policy)

    async def _refuse_anonymous(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        method = str(scope.get("method", "GET")).upper()
        if scope["type"] == "http" and method in ("GET", "HEAD") and not path.startswith("/api/"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [
                        (b"location", login_redirect(scope).encode("latin-1", "replace")),
                        (b"cache-control", b"no-store"),
                        (b"content-length", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await refuse(scope, receive, send, status=401, message=NEEDED, headers=_CHALLENGE)


_CHALLENGE: Final = {"www-authenticate": "Bearer"}


def _engine(scope: Scope) -> Engine:
    """The app's engine (unconfined: sessions and tokens are account records)."""
    engine: Engine = scope["app"].state.engine
    return engine


def _has_csrf(scope: Scope, principal: Principal) -> bool:
    """True unless a state-changing request signed in by session lacks its CSRF token."""
    if principal.signed_in_by is not SignedInBy.SESSION or principal.csrf_token is None:
        return True
    if scope["type"] != "http" or str(scope.get("method", "GET")).upper() in SAFE_METHODS:
        return True
    if is_open_path(str(scope.get("path", ""))):  # signing in again: the form has its own token
        return True
    return same_secret(request_headers(scope).get(CSRF_HEADER), principal.csrf_token)


def principal_by_token(engine: Engine, token: str) -> Principal | None:
    """The user of a live API token, or None."""
    with session_scope(engine) as session:
        found = resolve_token(session, token=token)
        if found is None:
            return None
        _, user = found
        return Principal(
            user_id=user.id or 0,
            username=user.username,
            is_admin=user.is_admin,
            signed_in_by=SignedInBy.API_TOKEN,
        )


def principal_by_session(engine: Engine, cookie: str, policy: SessionPolicy) -> Principal | None:
    """The user of a live session cookie, or None."""
    with session_scope(engine) as session:
        found = resolve_session(session, cookie_value=cookie, policy=policy)
        if found is None:
            return None
        record, user = found
        return Principal(
            user_id=user.id or 0,
            username=user.username,
            is_admin=user.is_admin,
            signed_in_by=SignedInBy.SESSION,
            session_id=record.id,
            csrf_token=record.csrf_token,
        )
