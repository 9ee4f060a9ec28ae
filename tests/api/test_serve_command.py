"""`strategylab serve`: loopback by default with the local user; any other bind requires
accounts, and the first admin's password is printed once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.main import _print_first_admin, serving_settings
from app.settings import Settings


def test_serve_is_a_command() -> None:
    result = CliRunner().invoke(cli_app, ["serve", "--help"])
    assert result.exit_code == 0 and "--host" in result.output and "--workers" in result.output


def test_loopback_needs_no_sign_in() -> None:
    settings = serving_settings(Settings(), host=None, port=None, workers=None)
    assert (settings.host, settings.port, settings.requires_accounts) == ("127.0.0.1", 8000, False)
    assert serving_settings(
        Settings(accounts="on"), host=None, port=None, workers=None
    ).requires_accounts


def test_any_other_address_requires_accounts() -> None:
    settings = serving_settings(Settings(), host="0.0.0.0", port=9000, workers=3)
    assert settings.requires_accounts and (settings.port, settings.workers) == (9000, 3)
    assert serving_settings(Settings(), host="10.0.0.5", port=None, workers=None).requires_accounts


def test_the_first_admin_is_created_once_and_its_password_printed_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path, host="0.0.0.0")
    _print_first_admin(settings)
    first = capsys.readouterr().err
    assert "user 'admin', password '" in first
    password = first.split("password '")[1].split("'")[0]
    assert len(password) >= 20
    _print_first_admin(settings)
    assert "password" not in capsys.readouterr().err  # never again, never a default


def test_the_old_access_token_setting_is_refused_with_what_to_do_instead() -> None:
    with pytest.raises(ValueError, match="STRATEGYLAB_ACCESS_TOKEN was replaced by accounts"):
        Settings(access_token="x" * 20)
