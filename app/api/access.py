"""The access token: when set, every request but `/static/*` must carry it.

Programs send `Authorization: Bearer <token>`; the browser sends the `strategylab_token`
cookie (HttpOnly, so the page's scripts never see it). The link printed at start carries the
token once, as `?token=`: opening it sets the cookie and redirects (303) to the same address
without the token, so the token never stays in the address bar, the history, a later URL or a
Referer. Anywhere else a `?token=` is not a credential.

The cookie is `SameSite=Lax` rather than `Strict` so that opening the printed link from
another application (a chat, a mail) still lands on a working page; what Lax lets through
(top-level GET navigations) changes nothing, and every state-changing request is checked for
its origin as well (`app.api.origins`).
"""

from __future__ import annotations

import hmac
from http.cookies import CookieError, SimpleCookie
from urllib.parse import quote

from starlette.datastructures import URL, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import refuse

COOKIE_NAME = "strategylab_token"
LINK_PARAMETER = "token"
OPEN_PREFIXES = ("/static/", "/favicon")
NEEDED = "an access token is needed: open the link printed at start, or send Authorization: Bearer"


def presented_token(scope: Scope) -> str | None:
    """The token a request carries, from its Authorization header or its cookie."""
    headers: dict[str, str] = {
        bytes(key).decode("latin-1").lower(): bytes(value).decode("latin-1")
        for key, value in scope.get("headers", [])
    }
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    try:
        cookie = SimpleCookie(headers.get("cookie", ""))
    except CookieError:
        return None
    return str(cookie[COOKIE_NAME].value) if COOKIE_NAME in cookie else None


def link_token(scope: Scope) -> str | None:
    """The `?token=` of a page link (a GET), or None."""
    if scope["type"] != "http" or scope.get("method") not in ("GET", "HEAD"):
        return None
    values = QueryParams(scope.get("query_string", b"")).getlist(LINK_PARAMETER)
    return values[0] if len(values) == 1 else None


def clean_location(scope: Scope) -> str:
    """The request's path and query without the token: where the link redirects to. Always a
    path on this server (`//evil.example` becomes `/evil.example`)."""
    url = URL(scope=scope).remove_query_params(LINK_PARAMETER)
    path = "/" + quote(url.path, safe="/%!$&'()*+,;=:@-._~").lstrip("/")
    return f"{path}?{url.query}" if url.query else path


class AccessTokenMiddleware:
    """Refuses requests without the token: 401 for HTTP, close code 1008 for websockets."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        from_link = link_token(scope)
        if from_link is not None and self._is_token(from_link):
            await self._adopt(scope, send)
        elif str(scope.get("path", "")).startswith(OPEN_PREFIXES) or self._is_token(
            presented_token(scope)
        ):
            await self.app(scope, receive, send)
        else:
            challenge = {"www-authenticate": "Bearer"}
            await refuse(scope, receive, send, status=401, message=NEEDED, headers=challenge)

    def _is_token(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(
            candidate.encode("utf-8", "surrogatepass"), self.token.encode()
        )

    async def _adopt(self, scope: Scope, send: Send) -> None:
        """303 to the clean address, setting the cookie the page's requests will carry."""
        cookie = SimpleCookie()
        cookie[COOKIE_NAME] = self.token
        morsel = cookie[COOKIE_NAME]
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        morsel["path"] = "/"
        morsel["secure"] = scope.get("scheme") == "https"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", clean_location(scope).encode("latin-1", "replace")),
                    (b"set-cookie", morsel.OutputString().encode("latin-1")),
                    (b"cache-control", b"no-store"),
                    (b"content-length", b"0"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})
