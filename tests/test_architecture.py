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
    "app.runs",
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


def import_cycles(package: str) -> list[set[str]]:
    """The groups of `package`'s modules that import each other, directly or through others
    (strongly connected components of its import graph with more than one module)."""
    import grimp  # import-linter's graph builder

    graph = grimp.build_graph(package.split(".")[0], include_external_packages=False)
    modules = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    reaches = {
        m: {m, *graph.find_downstream_modules(m)} & set(modules)
        for m in modules  # downstream: what `m` imports, transitively
    }
    groups: list[set[str]] = []
    for module in modules:
        group = {other for other in reaches[module] if module in reaches[other]}
        if len(group) > 1 and group not in groups:
            groups.append(group)
    return groups


def test_the_data_layer_and_the_engine_have_no_import_cycle() -> None:
    # The data layer's errors carry a validation report: the report lives in
    # app.data.problems, which imports nothing else of the layer, so no circle forms.
    assert import_cycles("app.data") == []
    assert import_cycles("app.engine") == []
