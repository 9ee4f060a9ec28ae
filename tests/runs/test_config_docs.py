"""The docs are checked against RunConfig's field table: every run option a user can set is
named in the README's list of `strategylab run` options, by the flag the CLI generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.engine.config import OPTION_FIELDS

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", [field.name for field in OPTION_FIELDS])
def test_every_run_option_is_named_in_the_readme(name: str) -> None:
    flag = "--" + name.replace("_", "-")
    assert f"`{flag}" in README or f" {flag} " in README or f"{flag}`" in README, flag
