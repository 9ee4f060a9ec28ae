"""The one map from exceptions to HTTP responses; routes raise, this module answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.types import Receive, Scope, Send

from app.api.responses import StrictJSONResponse as JSONResponse
from app.auth.errors import (
    AccountInputError,
    SignInRefusedError,
    SignInThrottledError,
    UnknownUserError,
)
from app.data.errors import DataError
from app.db.errors import RecordNotFoundError
from app.jobs.errors import InvalidRunRequestError, RunStateError
from app.jobs.quotas import QuotaExceededError
from app.research.errors import ResearchInputError
from app.research.run_folder import RunFolderError
from sandbox import StrategyRejected

logger = logging.getLogger(__name__)
MAX_SHOWN_ERRORS = 50  # a 422 lists at most this many problems, then says how many more
MAX_ERROR_TEXT = 300  # characters of a message, or of one part of its location, shown
POLICY_VIOLATION_CLOSE_CODE = 1008  # RFC 6455: the websocket handshake broke the server's policy


class UploadRefusedError(Exception):
    """An uploaded file is too large, not a .py file, or not UTF-8 text."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class BodyTooLargeError(HTTPException):
    """A request body is larger than the server reads (`Settings.request_max_bytes`)."""

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(
            status_code=413,
            detail=f"the request body is larger than the {limit_bytes:,} byte limit",
        )
        self.limit_bytes = limit_bytes


class RunLimitReachedError(Exception):
    """A client already has as many runs queued or running as it may."""

    def __init__(self, *, active: int, limit: int) -> None:
        runs = "1 run is" if active == 1 else f"{active} runs are"
        self.message = (
            f"{runs} queued or running for this client; the limit is {limit}: wait for one to "
            "finish or cancel one"
        )
        super().__init__(self.message)
        self.active = active
        self.limit = limit


async def refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
) -> None:
    """Answer a request that middleware refuses before the app sees it: a JSON `detail` for
    HTTP, close code 1008 with the message as reason for a websocket handshake."""
    if scope["type"] == "websocket":
        reason = message.encode("utf-8")[:123].decode("utf-8", "ignore")  # RFC 6455 limit
        await send(
            {"type": "websocket.close", "code": POLICY_VIOLATION_CLOSE_CODE, "reason": reason}
        )
        return
    response = JSONResponse({"detail": message}, status_code=status, headers=headers)
    await response(scope, receive, send)


def shortened(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """`text` cut to about `limit` characters: its start and its end (where messages put
    their hint), saying how much of the middle was left out."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}...({len(text) - head - tail:,} characters left out)...{text[-tail:]}"


def compact_validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors as `{loc, msg, type}`: the refused input is never echoed back, and
    long keys, long messages and long lists of errors are cut."""
    shown: list[dict[str, Any]] = [
        {
            "loc": [
                part if isinstance(part, int) else shortened(str(part), 100)
                for part in error.get("loc", ())
            ],
            "msg": shortened(str(error.get("msg", ""))),
            "type": shortened(str(error.get("type", "value_error")), 100),
        }
        for error in errors[:MAX_SHOWN_ERRORS]
    ]
    if len(errors) > MAX_SHOWN_ERRORS:
        hidden = len(errors) - MAX_SHOWN_ERRORS
        shown.append(
            {"loc": ["body"], "msg": f"... and {hidden:,} more errors", "type": "too_many_errors"}
        )
    return shown


def field_error(field: str, message: str, kind: str = "value_error") -> dict[str, Any]:
    """One error entry shaped like FastAPI's own validation errors."""
    return {"loc": ["body", shortened(field, 100)], "msg": shortened(message), "type": kind}


async def _not_found(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": shortened(str(error))}, status_code=404)


async def _conflict(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": shortened(str(error))}, status_code=409)


async def _invalid_run(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidRunRequestError)
    return JSONResponse({"detail": [field_error(error.field, error.message)]}, status_code=422)


async def _research_input(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ResearchInputError)
    return JSONResponse({"detail": [field_error(error.field, error.message)]}, status_code=422)


async def _rejected(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StrategyRejected)
    diagnostics = [d.to_dict() for d in error.diagnostics]
    detail = [
        field_error("code", f"line {d.line}, column {d.col}: {d.message}", "strategy_rejected")
        for d in error.diagnostics
    ] or [field_error("code", str(error), "strategy_rejected")]
    return JSONResponse({"detail": detail, "diagnostics": diagnostics}, status_code=422)


async def _upload(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, UploadRefusedError)
    return JSONResponse({"detail": shortened(error.message)}, status_code=error.status_code)


async def _data(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": shortened(str(error))}, status_code=422)


async def _request_invalid(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": compact_validation_errors(error.errors())}, status_code=422)


async def _run_limit(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RunLimitReachedError)
    return JSONResponse({"detail": error.message}, status_code=429)


async def _quota(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, QuotaExceededError)
    body = {"detail": error.message, "quota": error.quota, "used": error.used, "limit": error.limit}
    return JSONResponse(body, status_code=429)


async def _account_input(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AccountInputError)
    return JSONResponse({"detail": [field_error(error.field, error.message)]}, status_code=422)


async def _sign_in_refused(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SignInRefusedError)
    return JSONResponse({"detail": error.message}, status_code=401)


async def _sign_in_throttled(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, SignInThrottledError)
    headers = {"retry-after": str(error.retry_after_s)}
    return JSONResponse({"detail": error.message}, status_code=429, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the map on `app`."""
    app.add_exception_handler(RecordNotFoundError, _not_found)
    app.add_exception_handler(RunStateError, _conflict)
    app.add_exception_handler(InvalidRunRequestError, _invalid_run)
    app.add_exception_handler(ResearchInputError, _research_input)
    app.add_exception_handler(RunFolderError, _not_found)  # a run's folder is gone or broken
    app.add_exception_handler(StrategyRejected, _rejected)
    app.add_exception_handler(UploadRefusedError, _upload)
    app.add_exception_handler(DataError, _data)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(RunLimitReachedError, _run_limit)
    app.add_exception_handler(QuotaExceededError, _quota)
    app.add_exception_handler(AccountInputError, _account_input)
    app.add_exception_handler(UnknownUserError, _not_found)
    app.add_exception_handler(SignInRefusedError, _sign_in_refused)
    app.add_exception_handler(SignInThrottledError, _sign_in_throttled)
