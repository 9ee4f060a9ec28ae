"""The request body limit, in front of the app: nothing larger than `request_max_bytes` is
read into memory, whether the client declares its size or streams it chunked.

A declared `Content-Length` over the limit is answered 413 before the app runs at all (so a
bodyless route such as `POST /rerun` cannot act on a request it then refuses); a chunked or
understated body is counted as it arrives and reading stops at the first byte over the limit.
Starlette's RequestBodyLimitMiddleware counts the same way, but lets the route run first when
the declared size is too large and answers without naming the limit. A few paths (a dataset
upload) have their own, larger limit (`path_limits`), which their routes stream to disk.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import BodyTooLargeError, refuse

TOO_LARGE_STATUS = 413


class BodyLimitMiddleware:
    """Answers 413 (naming the limit) for any HTTP request body over `limit_bytes`, or over
    `path_limits[path]` for a request to one of those exact paths."""

    def __init__(
        self, app: ASGIApp, *, limit_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.limit_bytes = limit_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit_bytes = self.path_limits.get(scope.get("path", ""), self.limit_bytes)
        declared = _declared_length(scope)
        if declared is not None and declared > limit_bytes:
            await self._refuse(scope, receive, send, limit_bytes)
            return
        received = 0
        is_started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit_bytes:
                    raise BodyTooLargeError(limit_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal is_started
            is_started = is_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLargeError:
            if is_started:  # the app answered before reading it all; nothing more to say
                raise
            await self._refuse(scope, receive, send, limit_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit_bytes: int) -> None:
        error = BodyTooLargeError(limit_bytes)
        await refuse(scope, receive, send, status=TOO_LARGE_STATUS, message=str(error.detail))


def _declared_length(scope: Scope) -> int | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == b"content-length":
            text = bytes(value).decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None
