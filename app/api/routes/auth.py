"""Signing in and out, who am I, and a user's own API tokens and sessions.

Pages: GET /login shows the sign-in form, POST /login (the form) signs in and redirects to
the page asked for. Programs: POST /api/auth/login (JSON) answers the user and sets the same
cookies; scripts normally use an API token instead (POST /api/auth/tokens, shown once).
The form carries a sign-in CSRF token that must equal its cookie (double submit), so another
site cannot sign a visitor into an account of its choosing.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Path, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from app.api.access import (
    CSRF_COOKIE,
    LOGIN_PATH,
    SESSION_COOKIE,
    client_address,
    principal_of,
    request_cookie,
)
from app.api.account_schemas import Me, SessionOut, SignInBody, TokenCreate, TokenIssued, TokenOut
from app.api.audit_trail import AuditDep
from app.api.deps import CurrentUserDep, OperatorEngineDep, SettingsDep
from app.api.schemas import ErrorOut
from app.auth import Principal, SignedInBy
from app.auth.api_tokens import issue_token, list_tokens, revoke_token
from app.auth.audit import AuditAction, AuditOutcome, record_event
from app.auth.credentials import new_secret, same_secret
from app.auth.errors import AccountError, SignInThrottledError
from app.auth.sessions import OpenedSession, SessionPolicy, end_session, list_open_sessions
from app.auth.sign_in import SignInPolicy, sign_in
from app.db.accounts import ApiTokenRecord, UserRecord
from app.db.errors import RecordNotFoundError
from app.db.session import session_scope
from app.settings import REPO_ROOT, Settings

router = APIRouter(tags=["accounts"])
TEMPLATES = Jinja2Templates(directory=REPO_ROOT / "templates")
LOGIN_CSRF_COOKIE: Final = "strategylab_login_csrf"
SESSION_HANDLE_CHARS: Final = 16
NOT_FOUND: dict[int | str, dict[str, object]] = {404: {"model": ErrorOut}}


def session_policy(settings: Settings) -> SessionPolicy:
    """The session lifetimes the operator set."""
    return SessionPolicy(
        idle_s=settings.session_idle_minutes * 60, lifetime_s=settings.session_lifetime_hours * 3600
    )


def sign_in_policy(settings: Settings) -> SignInPolicy:
    """The sign-in throttle and session lifetimes the operator set."""
    return SignInPolicy(
        max_failures=settings.login_max_failures,
        window_s=settings.login_window_minutes * 60,
        sessions=session_policy(settings),
    )


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this server, else "/" (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or any(ord(c) < 32 for c in target):
        return "/"
    return target


def _set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    httponly: bool,
    samesite: Literal["lax", "strict"],
    max_age: int | None = None,
) -> None:
    """A cookie for the whole site, `Secure` whenever the request came over https."""
    response.set_cookie(
        name,
        value,
        path="/",
        secure=request.url.scheme == "https",
        httponly=httponly,
        samesite=samesite,
        max_age=max_age,
    )


def set_session_cookies(
    response: Response, request: Request, opened: OpenedSession, settings: Settings
) -> None:
    """The HttpOnly session cookie and the CSRF cookie the page's scripts read."""
    lifetime = settings.session_lifetime_hours * 3600
    _set_cookie(
        response,
        request,
        SESSION_COOKIE,
        opened.cookie_value,
        httponly=True,
        samesite="lax",
        max_age=lifetime,
    )
    _set_cookie(
        response,
        request,
        CSRF_COOKIE,
        opened.record.csrf_token,
        httponly=False,
        samesite="strict",
        max_age=lifetime,
    )


def clear_session_cookies(response: Response, request: Request) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=request.url.scheme == "https")


def _sign_in(engine: Engine, body: SignInBody, client: str, policy: SignInPolicy) -> OpenedSession:
    """Sign in, committing the audit row of a failure too (the throttle counts them)."""
    with session_scope(engine) as session:
        try:
            _, opened = sign_in(
                session,
                username=body.username,
                password=body.password,
                client=client,
                policy=policy,
            )
        except AccountError:
            session.commit()
            raise
        return opened


def _login_page(
    request: Request, *, error: str | None, next_path: str, status_code: int = 200
) -> HTMLResponse:
    token = new_secret()
    response = TEMPLATES.TemplateResponse(
        request,
        "login.html",
        {"csrf": token, "next": next_path, "error": error, "version": request.app.version},
        status_code=status_code,
    )
    _set_cookie(response, request, LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict")
    response.headers["cache-control"] = "no-store"
    return response


@router.get(LOGIN_PATH, response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    """The sign-in form (on loopback without accounts, straight to the page asked for)."""
    if not settings.requires_accounts or principal_of(request.scope) is not None:
        return RedirectResponse(safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    return _login_page(request, error=None, next_path=safe_next(next))


@router.post(LOGIN_PATH, response_class=HTMLResponse, include_in_schema=False)
async def login_form(
    request: Request,
    settings: SettingsDep,
    engine: OperatorEngineDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    """Sign in from the form: a redirect to `next` with the session cookie, or the form
    again with the reason."""
    target = safe_next(next)
    if not settings.requires_accounts:
        return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    if not same_secret(csrf, request_cookie(request.scope, LOGIN_CSRF_COOKIE) or "\x00"):
        message = "the sign-in form expired: sign in again"
        return _login_page(request, error=message, next_path=target, status_code=403)
    try:
        body = SignInBody(username=username or "?", password=password or "?")
        opened = await run_in_threadpool(
            _sign_in, engine, body, client_address(request.scope), sign_in_policy(settings)
        )
    except AccountError as error:
        code = 429 if isinstance(error, SignInThrottledError) else 401
        return _login_page(request, error=error.message, next_path=target, status_code=code)
    response = RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)
    set_session_cookies(response, request, opened, settings)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post(
    "/api/auth/login",
    responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
async def login(
    body: SignInBody,
    request: Request,
    response: Response,
    settings: SettingsDep,
    engine: OperatorEngineDep,
) -> Me:
    """Sign in with a user name and password: sets the session and CSRF cookies. (Another
    site cannot send this JSON request: the cross-site check refuses its Origin.)"""
    if not settings.requires_accounts:
        principal = principal_of(request.scope)
        if principal is None:
            raise RecordNotFoundError("page", LOGIN_PATH)
        return _me(principal, settings)
    opened = await run_in_threadpool(
        _sign_in, engine, body, client_address(request.scope), sign_in_policy(settings)
    )
    set_session_cookies(response, request, opened, settings)
    record = opened.record
    with session_scope(engine) as session:
        user = session.get(UserRecord, record.user_id)
        if user is None:
            raise RecordNotFoundError("user", record.user_id)
        principal = Principal(
            user_id=record.user_id,
            username=user.username,
            is_admin=user.is_admin,
            signed_in_by=SignedInBy.SESSION,
            session_id=record.id,
            csrf_token=record.csrf_token,
        )
    return _me(principal, settings)


def _me(principal: Principal, settings: Settings) -> Me:
    return Me(
        id=principal.user_id,
        username=principal.username,
        is_admin=principal.is_admin,
        signed_in_by=principal.signed_in_by.value,
        accounts=settings.requires_accounts,
        csrf_token=principal.csrf_token,
    )


@router.post("/api/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request, user: CurrentUserDep, engine: OperatorEngineDep, audit: AuditDep
) -> Response:
    """End this session (an API token stays valid: revoke it with DELETE /api/auth/tokens)."""
    if user.session_id is not None:
        session_id = user.session_id

        def end() -> None:
            with session_scope(engine) as session:
                end_session(session, session_id=session_id)

        await run_in_threadpool(end)
        await audit.record(AuditAction.SIGN_OUT)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookies(response, request)
    return response


@router.get("/api/auth/me")
def me(user: CurrentUserDep, settings: SettingsDep) -> Me:
    """The signed-in user, and the CSRF token of this session."""
    return _me(user, settings)


def token_out(record: ApiTokenRecord) -> TokenOut:
    return TokenOut(
        id=record.id or 0,
        name=record.name,
        prefix=record.prefix,
        created_at=record.created_at,
        last_used_at=record.last_used_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
    )


@router.post("/api/auth/tokens", status_code=status.HTTP_201_CREATED)
def create_token(body: TokenCreate, user: CurrentUserDep, engine: OperatorEngineDep) -> TokenIssued:
    """A new API token for the signed-in user: the answer is the only time it is shown."""
    with session_scope(engine) as session:
        issued = issue_token(
            session, user_id=user.user_id, name=body.name, lifetime_days=body.lifetime_days
        )
        record_event(
            session,
            action=AuditAction.TOKEN_ISSUED,
            actor=user.username,
            actor_id=user.user_id,
            target=f"token {issued.record.id} {issued.record.prefix}",
        )
        return TokenIssued(**token_out(issued.record).model_dump(), token=issued.token)


@router.get("/api/auth/tokens")
def get_tokens(user: CurrentUserDep, engine: OperatorEngineDep) -> list[TokenOut]:
    """The signed-in user's tokens (never the tokens themselves)."""
    with session_scope(engine) as session:
        return [token_out(r) for r in list_tokens(session, user_id=user.user_id)]


@router.delete(
    "/api/auth/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND
)
def delete_token(
    token_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    user: CurrentUserDep,
    engine: OperatorEngineDep,
) -> Response:
    """Revoke one of the signed-in user's tokens; it stops working at once."""
    with session_scope(engine) as session:
        record = revoke_token(session, user_id=user.user_id, token_id=token_id)
        record_event(
            session,
            action=AuditAction.TOKEN_REVOKED,
            actor=user.username,
            actor_id=user.user_id,
            target=f"token {record.id} {record.prefix}",
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/auth/sessions")
def get_sessions(
    user: CurrentUserDep, engine: OperatorEngineDep, settings: SettingsDep
) -> list[SessionOut]:
    """The signed-in user's open sessions (each browser that signed in)."""
    with session_scope(engine) as session:
        records = list_open_sessions(session, user_id=user.user_id, policy=session_policy(settings))
        return [
            SessionOut(
                id=r.id[:SESSION_HANDLE_CHARS],
                created_at=r.created_at,
                last_seen_at=r.last_seen_at,
                expires_at=r.expires_at,
                client=r.client,
                is_current=r.id == user.session_id,
            )
            for r in records
        ]


@router.delete(
    "/api/auth/sessions/{handle}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND
)
def delete_session(
    handle: Annotated[str, Path(min_length=SESSION_HANDLE_CHARS, max_length=64)],
    user: CurrentUserDep,
    engine: OperatorEngineDep,
    settings: SettingsDep,
) -> Response:
    """Sign out one of the signed-in user's sessions (e.g. a lost laptop's)."""
    with session_scope(engine) as session:
        policy = session_policy(settings)
        matches = [
            r
            for r in list_open_sessions(session, user_id=user.user_id, policy=policy)
            if r.id.startswith(handle)
        ]
        if len(matches) != 1:
            raise RecordNotFoundError("session", handle)
        end_session(session, session_id=matches[0].id, user_id=user.user_id)
        record_event(
            session,
            action=AuditAction.SESSION_REVOKED,
            actor=user.username,
            actor_id=user.user_id,
            target=f"session {handle}",
            outcome=AuditOutcome.OK,
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
