"""The `strategylab` commands whose modules are imported only when one of them is asked for.

`strategylab run` is what a user waits for, start to files on disk: importing every command
group first (the account commands load SQLAlchemy, SQLModel and Alembic; the research
commands Optuna's front door) cost about a second before the run began. The root group lists
these commands by name and imports a command's module the first time click looks the command
up: to run it, or to print `--help`, which lists every command with its help as before.
"""

from __future__ import annotations

import importlib
from typing import Final

import typer
import typer.main
from typer._click import Command, Context
from typer.core import TyperGroup

LAZY_COMMANDS: Final = {
    "report": ("app.research.commands.report", "report_command"),
    "optimize": ("app.research.commands.optimize", "optimize_command"),
    "montecarlo": ("app.research.commands.montecarlo", "montecarlo_command"),
    "walkforward": ("app.research.commands.walkforward", "walkforward_command"),
}
"""Command name -> (module, function): a typer command function, registered on first use."""
LAZY_GROUPS: Final = {
    "data": ("app.data.commands", "data_app"),
    "quotas": ("app.quota_commands", "quotas_app"),
    "users": ("app.auth.commands", "users_app"),
}
"""Group name -> (module, typer app): a command group, built on first use."""


def load_command(name: str) -> Command:
    """The click command `name` of LAZY_COMMANDS or LAZY_GROUPS, its module imported now."""
    if name in LAZY_GROUPS:
        module, attribute = LAZY_GROUPS[name]
        group = typer.main.get_group(getattr(importlib.import_module(module), attribute))
        group.name = name
        return group
    module, attribute = LAZY_COMMANDS[name]
    single = typer.Typer(add_completion=False)
    single.command(name)(getattr(importlib.import_module(module), attribute))
    command = typer.main.get_command(single)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: its own commands, then LAZY_COMMANDS and LAZY_GROUPS by name, each
    imported the first time it is looked up (and kept)."""

    def list_commands(self, ctx: Context) -> list[str]:
        eager = super().list_commands(ctx)
        lazy = [name for name in (*LAZY_COMMANDS, *LAZY_GROUPS) if name not in eager]
        return [*eager, *lazy]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and (cmd_name in LAZY_COMMANDS or cmd_name in LAZY_GROUPS):
            self.commands[cmd_name] = load_command(cmd_name)
        return super().get_command(ctx, cmd_name)


__all__ = ["LAZY_COMMANDS", "LAZY_GROUPS", "LazyGroup", "load_command"]
