"""GET /sweeps: the sweep page (templates/sweep.html; its script is static/sweep.js)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.api.run_form import run_form_inputs
from app.research.sweep import OBJECTIVE_METRICS
from app.settings import REPO_ROOT

router = APIRouter()
TEMPLATES = Jinja2Templates(directory=REPO_ROOT / "templates")


@router.get("/sweeps", response_class=HTMLResponse, include_in_schema=False)
def sweep_page(request: Request) -> HTMLResponse:
    """The page that starts sweeps and shows their trials live."""
    return TEMPLATES.TemplateResponse(
        request,
        "sweep.html",
        {
            "version": request.app.version,
            "run_inputs": run_form_inputs(),
            "metrics": OBJECTIVE_METRICS,
        },
    )
