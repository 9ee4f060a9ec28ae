"""GET /docs (Swagger UI) and /redoc (ReDoc): the interactive API docs, served offline.

Their scripts and styles come from `static/vendor/` (npm packages pinned in package-lock.json,
copied by scripts/vendor-frontend), never from a CDN, so the pages work on a machine without
internet. The app is built with FastAPI's own docs routes turned off (`docs_url=None`).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
VENDOR = "/static/vendor"
FAVICON = "/static/favicon.svg"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
# Swagger UI's validator badge would ask validator.swagger.io about the schema: off.
SWAGGER_PARAMETERS = {"validatorUrl": None, "deepLinking": True, "persistAuthorization": False}


def _openapi_url(request: Request) -> str:
    return str(request.app.openapi_url or "/openapi.json")


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """The Swagger UI page for this server's OpenAPI schema."""
    return get_swagger_ui_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} · API docs",
        swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=FAVICON,
        oauth2_redirect_url=OAUTH2_REDIRECT,
        swagger_ui_parameters=SWAGGER_PARAMETERS,
    )


@router.get(OAUTH2_REDIRECT, response_class=HTMLResponse)
def swagger_ui_redirect() -> HTMLResponse:
    """Swagger UI's OAuth2 redirect page (part of its bundle's contract)."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> HTMLResponse:
    """The ReDoc page for this server's OpenAPI schema (no web fonts: offline)."""
    return get_redoc_html(
        openapi_url=_openapi_url(request),
        title=f"{request.app.title} · API reference",
        redoc_js_url=f"{VENDOR}/redoc/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )
