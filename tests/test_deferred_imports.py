"""app.deferred_imports: a module named with `deferred` runs on its first use, not on import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from app.deferred_imports import deferred


def _probe(tmp_path: Path, code: str) -> str:
    """`code` run by a fresh interpreter that finds the module `probed` (it records in
    sys.modules["probed_ran"] that its body ran) beside the project."""
    (tmp_path / "probed.py").write_text(
        "import sys, types\nsys.modules['probed_ran'] = types.ModuleType('probed_ran')\n"
        "VALUE = 42\n",
        encoding="utf-8",
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": f"{tmp_path}:{root}", "PATH": "/usr/bin:/bin"},
    )
    return done.stdout.strip()


def test_the_module_runs_on_its_first_attribute_access_not_before(tmp_path: Path) -> None:
    output = _probe(
        tmp_path,
        """
        import sys
        from app.deferred_imports import deferred
        probed = deferred("probed")
        before = "probed_ran" in sys.modules
        value = probed.VALUE
        print(before, "probed_ran" in sys.modules, value, sys.modules["probed"] is probed)
        """,
    )
    assert output == "False True 42 True"


def test_an_import_meanwhile_gets_the_same_module_and_loads_it(tmp_path: Path) -> None:
    output = _probe(
        tmp_path,
        """
        import sys
        from app.deferred_imports import deferred
        probed = deferred("probed")
        import probed as imported
        print(imported is probed, "probed_ran" in sys.modules, imported.VALUE)
        """,
    )
    assert output == "True True 42"


def test_a_module_imported_already_is_given_as_it_is() -> None:
    assert deferred("pandas") is pd
    assert type(deferred("pandas")) is type(sys)


def test_a_submodule_or_a_missing_module_is_refused() -> None:
    with pytest.raises(ValueError, match="top-level module"):
        deferred("no_such_package_here.sub")
    with pytest.raises(ModuleNotFoundError, match="no_such_module_here"):
        deferred("no_such_module_here")
