"""`strategylab users ...`: the operator's account commands (on the server's database).

Passwords are never taken from the command line (they would sit in the shell history and the
process list): a generated one is printed once, or `--password-stdin` reads one line.
Every change is written to the audit log with the actor `operator`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Engine
from sqlmodel import Session

from app.auth.api_tokens import issue_token
from app.auth.audit import AuditAction, list_events, record_event
from app.auth.errors import AccountError
from app.auth.users import create_user, generated_password, get_user, list_users, reset_password
from app.auth.users import set_disabled as set_user_disabled
from app.db import make_engine, migrate, session_scope
from app.settings import load_settings
from app.terminal import terminal_text

OPERATOR: Final = "operator"
EXIT_BAD_INPUT: Final = 2

users_app = typer.Typer(
    name="users",
    help="Accounts: create, list, disable, enable, reset passwords, issue API tokens, audit.",
    no_args_is_help=True,
)
PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
]


def _engine() -> Engine:
    engine = make_engine(load_settings().resolved_database_url)
    migrate(engine)
    return engine


def _in_session[T](work: Callable[[Session], T]) -> T:
    """Run `work` in one transaction; an account error is one sentence and exit code 2."""
    engine = _engine()
    try:
        with session_scope(engine) as session:
            return work(session)
    except AccountError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    finally:
        engine.dispose()


def _password(from_stdin: bool) -> tuple[str, bool]:
    """(password, was_generated)."""
    if not from_stdin:
        return generated_password(), True
    return sys.stdin.readline().rstrip("\r\n"), False


def _audit(session: Session, action: AuditAction, target: str) -> None:
    record_event(session, action=action, actor=OPERATOR, target=target, client="cli")


@users_app.command("create")
def create_command(
    username: Annotated[str, typer.Argument(help="1-64 lowercase letters, digits, . _ -")],
    admin: Annotated[bool, typer.Option("--admin", help="An admin sees everything.")] = False,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account (its generated password is printed this once)."""
    password, generated = _password(password_stdin)

    def work(session: Session) -> str:
        user = create_user(session, username=username, password=password, is_admin=admin)
        _audit(session, AuditAction.USER_CREATED, f"user {user.username}")
        return user.username

    name = _in_session(work)
    typer.echo(f"created {'admin' if admin else 'user'} {name}")
    if generated:
        typer.echo(f"password (shown once): {password}")


@users_app.command("list")
def list_command() -> None:
    """Every account with its role and state."""

    def work(session: Session) -> list[tuple[str, ...]]:
        return [
            (
                u.username,
                "admin" if u.is_admin else "user",
                "disabled" if u.is_disabled else "local" if u.is_local else "active",
                u.created_at.isoformat(timespec="seconds"),
                u.last_login_at.isoformat(timespec="seconds") if u.last_login_at else "-",
            )
            for u in list_users(session)
        ]

    table = Table("user", "role", "state", "created (UTC)", "last sign-in (UTC)")
    for row in _in_session(work):
        table.add_row(*(Text(terminal_text(cell, 200)) for cell in row))
    Console().print(table)


def _set_disabled(username: str, *, is_disabled: bool) -> None:
    action = AuditAction.USER_DISABLED if is_disabled else AuditAction.USER_ENABLED

    def work(session: Session) -> str:
        user = set_user_disabled(session, username=username, is_disabled=is_disabled)
        _audit(session, action, f"user {user.username}")
        return user.username

    name = _in_session(work)
    typer.echo(f"{'disabled' if is_disabled else 'enabled'} {name}")


@users_app.command("disable")
def disable_command(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account: its sessions end and its API tokens are revoked at once."""
    _set_disabled(username, is_disabled=True)


@users_app.command("enable")
def enable_command(username: Annotated[str, typer.Argument()]) -> None:
    """Re-enable a disabled account."""
    _set_disabled(username, is_disabled=False)


@users_app.command("reset-password")
def reset_password_command(
    username: Annotated[str, typer.Argument()], password_stdin: PasswordStdin = False
) -> None:
    """Set a new password (generated and printed once) and end the user's sessions."""
    password, generated = _password(password_stdin)

    def work(session: Session) -> str:
        get_user(session, username=username)
        reset_password(session, username=username, password=password)
        _audit(session, AuditAction.PASSWORD_RESET, f"user {username.strip().lower()}")
        return username.strip().lower()

    name = _in_session(work)
    typer.echo(f"password of {name} reset; their sessions ended")
    if generated:
        typer.echo(f"password (shown once): {password}")


@users_app.command("token")
def token_command(
    username: Annotated[str, typer.Argument()],
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'CI'.")] = "cli",
    days: Annotated[int | None, typer.Option(help="Lifetime in days (default: none).")] = None,
) -> None:
    """Issue an API token for a user (printed once; send it as Authorization: Bearer)."""

    def work(session: Session) -> str:
        user = get_user(session, username=username)
        if user.id is None or user.is_local:
            raise AccountError("the local user signs in by itself and takes no API tokens")
        issued = issue_token(session, user_id=user.id, name=name, lifetime_days=days)
        _audit(session, AuditAction.TOKEN_ISSUED, f"token {issued.record.id} of {user.username}")
        return issued.token

    typer.echo(f"API token (shown once): {_in_session(work)}")


@users_app.command("audit")
def audit_command(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Rows to show.")] = 50,
    action: Annotated[
        AuditAction | None, typer.Option(help="Only this action, e.g. sign_in.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only this user.")] = None,
) -> None:
    """The audit log, newest first."""

    def work(session: Session) -> list[tuple[str, ...]]:
        return [
            (e.time.isoformat(timespec="seconds"), e.actor, e.action, e.outcome, e.target, e.client)
            for e in list_events(session, action=action, actor=actor, limit=limit)
        ]

    table = Table("time (UTC)", "actor", "action", "outcome", "target", "client")
    for row in _in_session(work):
        table.add_row(*(Text(terminal_text(cell, 200)) for cell in row))
    Console().print(table)
