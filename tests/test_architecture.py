"""The package boundaries hold: the engine imports no web, database, data-store or sandbox
code, and the import-linter contracts in pyproject.toml are kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN_FOR_ENGINE = (
    "fastapi",
    "sqlalchemy",
    "sqlmodel",
    "starlette",
    "app.data",
    "app.api",
    "app.db",
    "app.jobs",
    "app.cli",
    "app.runner",
    "app.artifacts",
    "sandbox",
)


def test_importing_the_engine_loads_nothing_outside_its_world() -> None:
    probe = "import sys, app.engine; print('\\n'.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=120,
    ).stdout.split()
    leaked = [
        m
        for m in loaded
        if m.split(".")[0] in FORBIDDEN_FOR_ENGINE
        or any(m == f or m.startswith(f + ".") for f in FORBIDDEN_FOR_ENGINE)
    ]
    assert leaked == []


def test_app_package_init_stays_empty() -> None:
    assert (ROOT / "app" / "__init__.py").read_text().strip() == ""


def test_import_contracts_are_kept() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run(
        [str(linter)], capture_output=True, text=True, cwd=ROOT, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
