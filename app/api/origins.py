"""Cross-site request refusal: a state-changing request or a websocket handshake sent by a
browser on behalf of another site is refused (403), on loopback too.

The rule, for every method but GET, HEAD and OPTIONS, and for every websocket handshake:
1. an `Origin` header must be the server's own origin (the scheme the request came in on and
   its Host header, default ports dropped) or one listed in `STRATEGYLAB_ALLOWED_ORIGINS`;
   `Origin: null` (sandboxed frames, privacy redirects) and malformed origins are refused;
2. a `Sec-Fetch-Site` header must be `same-origin` or `none` (a user action), unless the
   Origin is one listed in `STRATEGYLAB_ALLOWED_ORIGINS`;
3. a request with neither header passes: browsers have sent `Origin` on every cross-origin
   non-GET request and websocket handshake since 2020, so such a request comes from a
   program (curl, the CLI, a script), which needs the access token whenever one is set.
GET requests change nothing on this server, and another site cannot read their answers.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import refuse, shortened
from app.api.hosts import request_host
from app.hostnames import parse_origin, without_default_port

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_ORIGIN_FETCH_SITES = frozenset({"same-origin", "none"})
WEB_SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}
CROSS_SITE_STATUS = 403


def own_origin(scope: Scope) -> str | None:
    """`scheme://host[:port]` of the server as this request reached it (ws counts as http)."""
    host = request_host(scope)
    if host is None:
        return None
    scheme = WEB_SCHEMES.get(str(scope.get("scheme", "http")), "http")
    return f"{scheme}://{without_default_port(host, scheme)}"


def cross_site_problem(scope: Scope, allowed_origins: frozenset[str]) -> str | None:
    """Why this request counts as cross-site (a sentence), or None when it does not."""
    origins = _header_values(scope, b"origin")
    sites = _header_values(scope, b"sec-fetch-site")
    if len(origins) > 1 or len(sites) > 1:
        return "a request may carry one Origin and one Sec-Fetch-Site header, not several"
    if origins:
        parsed = parse_origin(origins[0])
        if parsed is None:
            return (
                f"requests from the origin {shortened(origins[0], 100)!r} are refused: only "
                "this server's own pages may change things"
            )
        origin = f"{parsed[0]}://{parsed[1]}"
        if origin in allowed_origins:
            return None
        if origin != own_origin(scope):
            return (
                f"cross-site request refused: the page at {origin!r} is not this server's own "
                "(an operator can allow another origin with STRATEGYLAB_ALLOWED_ORIGINS)"
            )
    if sites and sites[0].strip().lower() not in SAME_ORIGIN_FETCH_SITES:
        site = shortened(sites[0], 40)
        return (
            f"cross-site request refused: the browser says it comes from a {site!r} page "
            "(Sec-Fetch-Site), not from this server's own pages"
        )
    return None


class CrossSiteRequestMiddleware:
    """Applies the rule above before the app (or the body limit) sees the request."""

    def __init__(self, app: ASGIApp, *, allowed_origins: Iterable[str] = ()) -> None:
        self.app = app
        self.allowed_origins = frozenset(allowed_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        is_checked = scope["type"] == "websocket" or (
            scope["type"] == "http" and str(scope.get("method", "GET")).upper() not in SAFE_METHODS
        )
        problem = cross_site_problem(scope, self.allowed_origins) if is_checked else None
        if problem is None:
            await self.app(scope, receive, send)
            return
        await refuse(scope, receive, send, status=CROSS_SITE_STATUS, message=problem)


def _header_values(scope: Scope, name: bytes) -> list[str]:
    return [
        bytes(value).decode("latin-1")
        for key, value in scope.get("headers", ())
        if key.lower() == name
    ]
