"""Security headers on every HTTP response: the pages cannot be framed (clickjacking), run only
the server's own scripts, never send a Referer (which would carry URLs to other sites), and
no response is sniffed into another content type or read by another origin.

The UI's policy allows what it needs and nothing else: its own scripts (no inline script, no
eval), inline styles (Monaco and the charts set element styles), `blob:` workers (Monaco's
language workers), `data:` fonts and images, and connections (fetch and the websocket) to
its own origin. The interactive API docs (Swagger UI and ReDoc, app/api/routes/api_docs.py)
load their scripts from this server's static/vendor with an inline start-up script, so those
three paths also allow inline script, nothing from another origin, and are never framed.

The middleware is the outermost layer of the app (`SecuredFastAPI`), outside Starlette's
ServerErrorMiddleware, which FastAPI otherwise always puts first: so the 500 answered for an
unhandled exception carries the headers too.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
    "worker-src blob:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
COMMON_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def security_headers(path: str) -> dict[str, str]:
    """The headers every response to `path` carries."""
    policy = DOCS_POLICY if path.rstrip("/") in DOCS_PATHS else UI_POLICY
    return {"content-security-policy": policy, **COMMON_HEADERS}


class SecurityHeadersMiddleware:
    """Adds `security_headers` to every HTTP response, refusals and errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = security_headers(str(scope.get("path", "")))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


class SecuredFastAPI(FastAPI):
    """A FastAPI app whose every response, an unhandled exception's 500 included, carries
    `security_headers`: the middleware wraps the whole stack Starlette builds."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack())
