"""POST /api/validate: the sandbox's inspection of a source (diagnostics, the class that runs,
its merged params), as the editor and the run form show it."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.schemas import DiagnosticOut, ParamOut, ValidateRequest, ValidateResponse
from sandbox import Diagnostic, inspect_source

router = APIRouter(tags=["validate"])


def diagnostics_out(diagnostics: list[Diagnostic]) -> list[DiagnosticOut]:
    """Sandbox diagnostics as response bodies."""
    return [DiagnosticOut.model_validate(d.to_dict()) for d in diagnostics]


@router.post("/api/validate")
def validate(body: ValidateRequest) -> ValidateResponse:
    """Check source without running it; `ok` is False when any diagnostic is an error."""
    inspection = inspect_source(body.code)
    return ValidateResponse(
        ok=inspection.is_runnable,
        diagnostics=diagnostics_out(list(inspection.diagnostics)),
        strategy_class=inspection.strategy_class,
        title=inspection.title,
        params=[ParamOut.model_validate(param.to_dict()) for param in inspection.params],
    )
