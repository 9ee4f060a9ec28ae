"""GET /api/examples inspects each example file once, and again only when the file changes
(inspecting compiles the file under the sandbox's process-wide lock: redone per request, it
queued the server's threads under load)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.api.routes import examples
from app.api.routes.examples import ExampleShelf
from sandbox import inspect_source

CODE = '''"""First title."""


class One(Strategy):
    params = {"fast": 3}

    def on_data(self, bar):
        pass
'''


def test_an_example_is_inspected_once_until_its_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inspected: list[str] = []
    real = inspect_source

    def counting(code: str, filename: str) -> object:
        inspected.append(filename)
        return real(code, filename)

    monkeypatch.setattr(examples, "inspect_source", counting)
    path = tmp_path / "one.py"
    path.write_text(CODE, "utf-8")
    shelf = ExampleShelf()
    first = shelf.example(path)
    assert shelf.example(path) == first and inspected == ["one.py"]
    assert (first.title, first.params) == ("First title.", {"fast": 3})
    path.write_text(CODE.replace("First", "Second").replace("3", "4"), "utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a later mtime
    changed = shelf.example(path)
    assert (changed.title, changed.params) == ("Second title.", {"fast": 4})
    assert inspected == ["one.py", "one.py"]
