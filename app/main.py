"""The web application: create_app(settings) wires the API, the UI and the lifespan.

The lifespan owns the long-lived things: the database engine (schema migrated at start), the
dataset catalog, the progress hub and the job runner (which recovers interrupted runs at
start and stops every worker at shutdown).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.api.accounts_setup import (
    add_access_middleware,
    first_admin,
    include_account_routes,
    local_principal,
)
from app.api.admission import RunAdmission
from app.api.bodies import BodyLimitMiddleware
from app.api.errors import install_error_handlers
from app.api.hosts import AllowedHostsMiddleware
from app.api.origins import CrossSiteRequestMiddleware
from app.api.quota_gate import QuotaGate
from app.api.responses import StrictJSONResponse
from app.api.routes import (
    api_docs,
    dataset_uploads,
    datasets,
    examples,
    health,
    montecarlo,
    reports,
    run_indicators,
    run_periods,
    runs,
    strategies,
    sweep_page,
    sweeps,
    tiers,
    validate,
    walkforwards,
)
from app.api.routes.dataset_uploads import DATASET_UPLOADS_PATH
from app.api.routes.examples import ExampleShelf
from app.api.run_form import run_form_inputs
from app.api.schemas import ErrorOut
from app.api.security_headers import SecuredFastAPI
from app.api.sweep_ws import router as sweep_ws_router
from app.api.ws import router as ws_router
from app.api.ws import websocket_keepalive
from app.db import make_engine, migrate
from app.hostnames import parse_host_pattern
from app.jobs import DatasetCatalog, ProgressHub
from app.jobs.backends import make_job_runner, make_sweep_hub, make_sweep_runner
from app.jobs.quotas import QuotaLimits
from app.runs.record import package_version
from app.settings import (
    REPO_ROOT,
    WILDCARD_ADDRESSES,
    Settings,
    load_settings,
    settings_problems,
)
from sandbox import WorkerPool

logger = logging.getLogger(__name__)

STATIC_DIR = REPO_ROOT / "static"
TEMPLATES_DIR = REPO_ROOT / "templates"
SERVER_STOPPING = {
    "type": "error",
    "message": "the server is stopping; reconnect when it is back",
    "line": None,
    "status": "queued",
}
MALFORMED: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The body is not parseable JSON or multipart data."},
    413: {"model": ErrorOut, "description": "The body is larger than the request body limit."},
}


def create_app(
    settings: Settings | None = None, *, worker_pool: Callable[..., WorkerPool] = WorkerPool
) -> FastAPI:
    """The FastAPI app for `settings` (read from the environment when not given).

    `worker_pool` makes the job runner's pool of pre-started sandbox workers (the tests give
    one of stand-in workers to show the server survives any worker output)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        await run_in_threadpool(migrate, engine)
        app.state.local_principal = await run_in_threadpool(local_principal, engine)
        catalog = DatasetCatalog(settings.data_dir)
        hub = ProgressHub()
        runner = make_job_runner(  # local pool, or RQ on Redis (STRATEGYLAB_REDIS_URL)
            settings, engine=engine, catalog=catalog, hub=hub, pool_factory=worker_pool
        )
        app.state.engine, app.state.catalog = engine, catalog
        app.state.hub, app.state.runner = hub, runner
        app.state.admission = RunAdmission(limit=settings.max_active_runs_per_client)
        app.state.quotas = QuotaGate(  # per-user quotas (app.jobs.quotas)
            engine=engine,
            catalog=catalog,
            defaults=QuotaLimits.from_settings(settings),
            runs_dir=settings.runs_dir,
        )
        app.state.sweep_hub = sweep_hub = make_sweep_hub(settings)  # every node's live view
        app.state.sweeps = sweeps = make_sweep_runner(  # trials here, or on the workers
            settings, engine=engine, catalog=catalog, hub=sweep_hub
        )
        runner.start()
        sweep_hub.start()
        sweeps.start()
        warm_up = asyncio.get_running_loop().run_in_executor(None, catalog.entries)
        warm_up.add_done_callback(_log_warm_up_failure)  # first GET /api/datasets stays quick
        logger.info("server ready workers=%d database=%s", settings.workers, engine.dialect.name)
        try:
            yield
        finally:
            await run_in_threadpool(sweeps.shutdown)
            await run_in_threadpool(runner.shutdown)
            hub.close_all(SERVER_STOPPING)
            sweep_hub.close_all(SERVER_STOPPING)
            sweep_hub.stop()
            engine.dispose()

    app = SecuredFastAPI(  # security headers outside every layer, error 500s included
        title="Strategy Lab",
        version=package_version(),
        description="Write, validate and backtest trading strategies; watch runs live.",
        lifespan=lifespan,
        default_response_class=StrictJSONResponse,
        docs_url=None,  # app/api/routes/api_docs.py serves /docs and /redoc from static/vendor
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.example_shelf = ExampleShelf()  # GET /api/examples inspects each file once
    install_error_handlers(app)
    for module in (
        health,
        examples,
        validate,
        strategies,
        datasets,
        runs,
        reports,
        montecarlo,
        sweeps,
        walkforwards,
        tiers,
        dataset_uploads,
    ):
        app.include_router(module.router, responses=MALFORMED)
    app.include_router(api_docs.router)
    app.include_router(run_periods.router, responses=MALFORMED)
    app.include_router(run_indicators.router, responses=MALFORMED)
    app.include_router(ws_router)
    app.include_router(sweep_ws_router)
    app.include_router(sweep_page.router)
    include_account_routes(app, responses=MALFORMED)
    _mount_ui(app)
    _add_guards(app, settings)
    return app


def _add_guards(app: FastAPI, settings: Settings) -> None:
    """The checks in front of every route, outermost first (inside the security headers, which
    SecuredFastAPI puts outside everything): the Host allow-list (DNS rebinding), the
    cross-site refusal, the user of the request (`app.api.access`), and the body limit, so
    that no body is read for a request refused anyway."""
    app.add_middleware(
        BodyLimitMiddleware,
        limit_bytes=settings.request_max_bytes,
        path_limits={DATASET_UPLOADS_PATH: settings.dataset_upload_max_bytes},
    )
    add_access_middleware(app, settings)
    app.add_middleware(CrossSiteRequestMiddleware, allowed_origins=settings.allowed_origins)
    app.add_middleware(AllowedHostsMiddleware, allowed=settings.trusted_hosts)


def _log_warm_up_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("listing the datasets failed: %s", future.exception())


def _mount_ui(app: FastAPI) -> None:
    """Serve static/ at /static and templates/index.html at / when the UI is present."""
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    if not (TEMPLATES_DIR / "index.html").is_file():
        return
    templates = Jinja2Templates(directory=TEMPLATES_DIR)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(
            request, "index.html", {"version": app.version, "run_inputs": run_form_inputs()}
        )


def serving_settings(
    base: Settings, *, host: str | None, port: int | None, workers: int | None
) -> Settings:
    """`base` with the command line's choices. When it binds every address (0.0.0.0, ::)
    with no allowed hosts set, this machine's own names (those in the printed link) are
    allowed besides loopback. (Binding anything but loopback requires accounts.)"""
    overrides: dict[str, object] = {
        key: value
        for key, value in (("host", host), ("port", port), ("workers", workers))
        if value is not None
    }
    settings = Settings.model_validate({**base.model_dump(), **overrides})
    if settings.host in WILDCARD_ADDRESSES and not settings.allowed_hosts:
        names = (*settings.trusted_hosts, *machine_names())
        settings = Settings.model_validate({**settings.model_dump(), "allowed_hosts": names})
    return settings


def machine_names() -> tuple[str, ...]:
    """This machine's host name and fully qualified name (those that parse as host names)."""
    names = []
    for name in dict.fromkeys((socket.gethostname(), socket.getfqdn())):
        try:
            names.append(str(parse_host_pattern(name)))
        except ValueError:
            logger.warning("this machine's name %r is not a host name; not allowed", name)
    return tuple(names)


def _print_first_admin(settings: Settings) -> None:
    """Create the first admin when there is no account yet and print its password, once."""
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        created = first_admin(engine)
    finally:
        engine.dispose()
    if created is not None:
        name, password = created
        sys.stderr.write(
            f"    First admin account created: user {name!r}, password {password!r}\n"
            "    It is shown this once: sign in and keep it, or reset it with\n"
            f"    `strategylab users reset-password {name}`.\n\n"
        )


def serve(*, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the server until interrupted."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        loaded = load_settings()
    except ValidationError as error:  # one sentence per setting, not a traceback
        for problem in settings_problems(error):
            sys.stderr.write(f"error: {problem}\n")
        raise SystemExit(2) from None
    settings = serving_settings(loaded, host=host, port=port, workers=workers)
    shown_host = socket.gethostname() if settings.host in ("0.0.0.0", "::") else settings.host
    url = f"http://{shown_host}:{settings.port}/"
    sys.stderr.write(f"\n    Strategy Lab is running; open {url}\n\n")
    if settings.requires_accounts:
        _print_first_admin(settings)
    logger.info("answering to hosts %s", ", ".join(settings.trusted_hosts))
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,  # one line per request costs the API time when it is busiest
        **websocket_keepalive(),  # off: a keepalive dropped slow viewers (app.api.ws)
    )
