"""`strategylab serve`: loopback by default, a token whenever it binds anything else."""

from __future__ import annotations

from typer.testing import CliRunner

from app.cli import cli_app
from app.main import serving_settings
from app.settings import Settings


def test_serve_is_a_command() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0 and "--host" in result.output and "--workers" in result.output


def test_loopback_needs_no_token() -> None:
    settings = serving_settings(Settings(), host=None, port=None, workers=None)
    assert (settings.host, settings.port, settings.access_token) == ("127.0.0.1", 8000, None)


def test_any_other_address_gets_a_generated_token() -> None:
    settings = serving_settings(Settings(), host="0.0.0.0", port=9000, workers=3)
    assert settings.access_token is not None and len(settings.access_token) >= 16
    assert (settings.port, settings.workers) == (9000, 3)
    kept = serving_settings(
        Settings(access_token="x" * 20), host="10.0.0.5", port=None, workers=None
    )
    assert kept.access_token == "x" * 20
