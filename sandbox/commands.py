"""The `strategylab validate` command: a file's diagnostics, non-zero exit on errors."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from sandbox.diagnostics import has_errors
from sandbox.validate import validate_source

logger = logging.getLogger(__name__)


def validate_command(
    file: Annotated[Path, typer.Argument(help="The strategy .py file to check.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the diagnostics as a JSON list.")
    ] = False,
    strategy: Annotated[
        str | None, typer.Option("--strategy", help="Class to check when the file has several.")
    ] = None,
) -> None:
    """Check a strategy file without running it: imports, names, attributes, the class layout."""
    try:
        code = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        typer.echo(f"{file}: cannot read the file: {error}", err=True)
        raise typer.Exit(2) from None
    diagnostics = validate_source(code, file.name, strategy_name=strategy)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in diagnostics], indent=2))
    else:
        for diagnostic in diagnostics:
            typer.echo(diagnostic.format(str(file)))
        if not diagnostics:
            typer.echo(f"{file}: ok")
    if has_errors(diagnostics):
        raise typer.Exit(1)
