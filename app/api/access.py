"""The access token: when set, every API, docs and websocket request must carry it.

Accepted as `Authorization: Bearer <token>`, the `strategylab_token` cookie, or `?token=`
(which also sets the cookie on the page, like Jupyter's login link).
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE_NAME = "strategylab_token"
OPEN_PREFIXES = ("/static/", "/favicon")


def presented_token(scope: Scope) -> str | None:
    """The token a request carries, from its header, cookie or query string."""
    headers: dict[str, str] = {
        bytes(key).decode("latin-1").lower(): bytes(value).decode("latin-1")
        for key, value in scope.get("headers", [])
    }
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    cookie = SimpleCookie(headers.get("cookie", ""))
    if COOKIE_NAME in cookie:
        return str(cookie[COOKIE_NAME].value)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("token")
    return values[0] if values else None


class AccessTokenMiddleware:
    """Refuses requests without the token: 401 for HTTP, close code 1008 for websockets."""

    def __init__(self, app: ASGIApp, *, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self._is_allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "access token needed"})
            return
        body = b'{"detail":"an access token is needed: see the link printed at start"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _is_allowed(self, scope: Scope) -> bool:
        if str(scope.get("path", "")).startswith(OPEN_PREFIXES):
            return True
        token = presented_token(scope)
        return token is not None and hmac.compare_digest(token.encode(), self.token.encode())
