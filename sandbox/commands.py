"""`strategylab validate` (a file's diagnostics, non-zero exit on errors) and
`strategylab warm-indicators` (numba's kernel cache, filled outside the sandbox)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Final

import typer

from sandbox.diagnostics import has_errors
from sandbox.text import clean_text
from sandbox.validate import validate_source

logger = logging.getLogger(__name__)

MAX_LINE_CHARS: Final = 2_000
"""Longest diagnostic line printed (the JSON output is ASCII-escaped by json.dumps)."""


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
        typer.echo(clean_text(f"{file}: cannot read the file: {error}", MAX_LINE_CHARS), err=True)
        raise typer.Exit(2) from None
    diagnostics = validate_source(code, file.name, strategy_name=strategy)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in diagnostics], indent=2))
    else:
        for diagnostic in diagnostics:  # quotes the file's text: escaped for the terminal
            typer.echo(clean_text(diagnostic.format(str(file)), MAX_LINE_CHARS))
        if not diagnostics:
            typer.echo(clean_text(f"{file}: ok", MAX_LINE_CHARS))
    if has_errors(diagnostics):
        raise typer.Exit(1)


def warm_indicators_command() -> None:
    """Compile and cache pandas-ta's numba kernels once, so sandboxed runs only read them."""
    from sandbox.kernel_cache import fill_kernel_cache  # imports pandas-ta: only when asked

    report = fill_kernel_cache()
    typer.echo(
        f"computed {report.indicators} indicators in {report.seconds:.1f} s; "
        "their numba kernels are cached for sandboxed runs"
    )
    for name, error in report.failed:
        typer.echo(f"  {name}: {error}", err=True)
