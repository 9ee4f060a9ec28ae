"""The API's JSON response class: strict JSON (no Infinity/NaN) in valid UTF-8 (no lone
surrogate) for every body it sends."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from app import strict_json


class StrictJSONResponse(JSONResponse):
    """A JSONResponse whose non-finite numbers are sent as null and lone surrogates as U+FFFD,
    never as a 500."""

    def render(self, content: Any) -> bytes:
        return strict_json.dumps_utf8(content, separators=(",", ":"))
