"""The Host allow-list: requests addressed to a name the server does not answer to are refused.

This is what stops DNS rebinding: a page on `evil.example` whose name the attacker re-points
at 127.0.0.1 reaches this server with `Host: evil.example`, and gets a 400 instead of the API.
Starlette's TrustedHostMiddleware does the same in spirit, but it compares the raw name (so
`localhost.` with its trailing dot, or `[0:0::1]`, is refused while it is this very server),
ignores the port, lets a request with two Host headers through on the first, and answers
plain text; this middleware normalises every spelling first (`app.hostnames`), can pin a
port, and answers JSON like the rest of the API.

Entries without a port match the name at any port, on purpose: the name is what a rebinding
page controls, while the port a client uses can differ from the bound one (an SSH tunnel,
`docker run -p 9000:8000`).
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import refuse, shortened
from app.hostnames import DEFAULT_PORTS, HostName, HostPattern, parse_host, parse_host_pattern

MISDIRECTED_STATUS = 400


def request_host(scope: Scope) -> HostName | None:
    """The normalised Host of a request; None unless there is exactly one well-formed one."""
    values = [value for key, value in scope.get("headers", ()) if key.lower() == b"host"]
    if len(values) != 1:
        return None
    return parse_host(bytes(values[0]).decode("latin-1"))


def raw_host(scope: Scope) -> str:
    """The Host header as sent (for messages), or an empty string."""
    for key, value in scope.get("headers", ()):
        if key.lower() == b"host":
            return bytes(value).decode("latin-1")
    return ""


class AllowedHostsMiddleware:
    """Refuses HTTP requests (400) and websocket handshakes (close 1008) whose Host header is
    missing, repeated, malformed or not on the allow-list."""

    def __init__(self, app: ASGIApp, *, allowed: Iterable[str]) -> None:
        self.app = app
        self.patterns: tuple[HostPattern, ...] = tuple(parse_host_pattern(e) for e in allowed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = request_host(scope)
        default_port = DEFAULT_PORTS.get(str(scope.get("scheme", "http")), 80)
        if host is not None and any(p.matches(host, default_port) for p in self.patterns):
            await self.app(scope, receive, send)
            return
        if host is None:
            message = (
                "the request needs exactly one well-formed Host header "
                f"(got {shortened(raw_host(scope), 100)!r})"
            )
        else:
            message = (
                f"this server does not answer to the name {shortened(str(host), 100)!r}; "
                "open it by one of its own names, or have the operator add this one to "
                "STRATEGYLAB_ALLOWED_HOSTS (requests to other names are refused so that a web "
                "page cannot reach the server through a rebound DNS name)"
            )
        await refuse(scope, receive, send, status=MISDIRECTED_STATUS, message=message)
