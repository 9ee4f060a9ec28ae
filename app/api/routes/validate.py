"""POST /api/validate: the sandbox's diagnostics for a source, as the editor shows them."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.schemas import DiagnosticOut, ValidateRequest, ValidateResponse
from sandbox import Diagnostic, has_errors, validate_source

router = APIRouter(tags=["validate"])


def diagnostics_out(diagnostics: list[Diagnostic]) -> list[DiagnosticOut]:
    """Sandbox diagnostics as response bodies."""
    return [DiagnosticOut.model_validate(d.to_dict()) for d in diagnostics]


@router.post("/api/validate")
def validate(body: ValidateRequest) -> ValidateResponse:
    """Check source without running it; `ok` is False when any diagnostic is an error."""
    diagnostics = validate_source(body.code)
    return ValidateResponse(
        ok=not has_errors(diagnostics), diagnostics=diagnostics_out(diagnostics)
    )
