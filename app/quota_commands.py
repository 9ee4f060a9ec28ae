"""`strategylab quotas show|set USER`: the operator's view and setting of a user's quotas."""

from __future__ import annotations

from typing import Annotated, Final

import typer

quotas_app = typer.Typer(help="Per-user quotas (defaults: STRATEGYLAB_QUOTA_* settings).")

QUOTA_FIELDS: Final = (
    "concurrent_runs",
    "cpu_seconds_per_day",
    "storage_mb",
    "sweep_trials",
    "concurrent_sweeps",
)
EXIT_BAD_INPUT: Final = 2


@quotas_app.command("show")
def show_command(username: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Print the user's limits in force and what they use now."""
    from app.auth.errors import UnknownUserError
    from app.auth.users import get_user
    from app.data.catalog import DatasetCatalog
    from app.db import make_engine, migrate, session_scope
    from app.db.models import utc_now
    from app.db.quota_records import UserQuotaRecord
    from app.jobs.quotas import (
        MIB,
        QuotaLimits,
        active_runs,
        active_sweeps,
        cpu_seconds_today,
        limits_for,
        storage_bytes,
    )
    from app.settings import load_settings

    settings = load_settings()
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    try:
        with session_scope(engine) as session:
            user = get_user(session, username=username)
            assert user.id is not None  # stored users have ids
            limits = limits_for(
                session, user_id=user.id, defaults=QuotaLimits.from_settings(settings)
            )
            overrides = session.get(UserQuotaRecord, user.id)
            used = {
                "concurrent_runs": float(active_runs(session, user_id=user.id)),
                "cpu_seconds_per_day": cpu_seconds_today(session, user_id=user.id, now=utc_now()),
                "storage_mb": storage_bytes(
                    session,
                    user_id=user.id,
                    runs_dir=settings.runs_dir,
                    catalog=DatasetCatalog(settings.data_dir),
                )
                / MIB,
                "sweep_trials": float("nan"),
                "concurrent_sweeps": float(active_sweeps(session, user_id=user.id)),
            }
    except UnknownUserError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from error
    finally:
        engine.dispose()
    for name in QUOTA_FIELDS:
        source = "set" if overrides and getattr(overrides, name) is not None else "default"
        figure = used[name]
        usage = "" if figure != figure else f"  (using {figure:,.1f})"  # NaN: not a running total
        typer.echo(f"{name.replace('_', '-'):<22}{getattr(limits, name):>14,}  {source}{usage}")


@quotas_app.command("set")
def set_command(
    username: Annotated[str, typer.Argument(help="The user's name.")],
    concurrent_runs: Annotated[
        int | None, typer.Option(help="Runs queued or running at once.")
    ] = None,
    cpu_seconds_per_day: Annotated[
        float | None, typer.Option(help="CPU-seconds of runs per UTC day.")
    ] = None,
    storage_mb: Annotated[int | None, typer.Option(help="MiB of run folders and datasets.")] = None,
    sweep_trials: Annotated[int | None, typer.Option(help="Trials in one sweep.")] = None,
    concurrent_sweeps: Annotated[
        int | None, typer.Option(help="Sweeps and walk-forwards queued or running at once.")
    ] = None,
    default: Annotated[
        list[str] | None,
        typer.Option(help="Return a quota to the default (repeatable), e.g. storage-mb."),
    ] = None,
) -> None:
    """Set the user's quotas; the ones not given stay as they are."""
    from app.auth.errors import UnknownUserError
    from app.auth.users import get_user
    from app.db import make_engine, migrate, session_scope
    from app.jobs.quotas import set_limits

    cleared = [name.replace("-", "_") for name in default or ()]
    unknown = [name for name in cleared if name not in QUOTA_FIELDS]
    if unknown:
        known = ", ".join(name.replace("_", "-") for name in QUOTA_FIELDS)
        typer.echo(f"error: --default {unknown[0]!r} is not a quota; one of: {known}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT)
    from app.settings import load_settings

    engine = make_engine(load_settings().resolved_database_url)
    migrate(engine)
    try:
        with session_scope(engine) as session:
            user = get_user(session, username=username)
            assert user.id is not None  # stored users have ids
            set_limits(
                session,
                user_id=user.id,
                concurrent_runs=concurrent_runs,
                cpu_seconds_per_day=cpu_seconds_per_day,
                storage_mb=storage_mb,
                sweep_trials=sweep_trials,
                concurrent_sweeps=concurrent_sweeps,
                clear=cleared,
            )
    except (UnknownUserError, ValueError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from error
    finally:
        engine.dispose()
    typer.echo(f"quotas of {username} updated")
