"""The one map from exceptions to HTTP responses; routes raise, this module answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.data.errors import DataError
from app.db.errors import RecordNotFoundError
from app.jobs.errors import InvalidRunRequestError, RunStateError
from sandbox import StrategyRejected

logger = logging.getLogger(__name__)


class UploadRefusedError(Exception):
    """An uploaded file is too large, not a .py file, or not UTF-8 text."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def field_error(field: str, message: str, kind: str = "value_error") -> dict[str, Any]:
    """One error entry shaped like FastAPI's own validation errors."""
    return {"loc": ["body", field], "msg": message, "type": kind}


async def _not_found(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=404)


async def _conflict(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=409)


async def _invalid_run(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, InvalidRunRequestError)
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
    return JSONResponse({"detail": error.message}, status_code=error.status_code)


async def _data(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(error)}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Register the map on `app`."""
    app.add_exception_handler(RecordNotFoundError, _not_found)
    app.add_exception_handler(RunStateError, _conflict)
    app.add_exception_handler(InvalidRunRequestError, _invalid_run)
    app.add_exception_handler(StrategyRejected, _rejected)
    app.add_exception_handler(UploadRefusedError, _upload)
    app.add_exception_handler(DataError, _data)
