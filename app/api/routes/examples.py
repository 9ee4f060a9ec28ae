"""GET /api/examples: the example strategies users start from, with the run options each needs.

Inspecting a strategy parses and compiles it (and parsing takes the sandbox's process-wide
warnings lock), so the page's every load used to redo it for every example, one request at a
time: under load the requests queued on that lock held the server's threads, and every other
request waited for a thread. An `ExampleShelf` (one per app, on `app.state.example_shelf`)
keeps each file's listing until the file changes (its size or modification time).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from starlette.requests import HTTPConnection

from app.api.deps import SettingsDep
from app.api.schemas import Example
from app.engine import RunConfig
from sandbox import inspect_source

logger = logging.getLogger(__name__)
router = APIRouter(tags=["examples"])
SETTINGS_FILE = "run_settings.json"  # {example name: {RunConfig field: value}} beside the files
CONFIG_FIELDS = frozenset(field.name for field in dataclasses.fields(RunConfig))


def example_settings(examples_dir: Path) -> dict[str, dict[str, str | float]]:
    """Each example's run options from `run_settings.json`. Entries that name no RunConfig
    field or carry a value that is not a string or number are left out with a warning (the
    file is the operator's; a mistake in it must not break the page)."""
    path = examples_dir / SETTINGS_FILE
    if not path.is_file():
        return {}
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        logger.warning("ignoring %s: %s", path, error)
        return {}
    settings: dict[str, dict[str, str | float]] = {}
    for name, options in raw.items() if isinstance(raw, dict) else ():
        if name.startswith("_") or not isinstance(options, dict):
            continue
        kept: dict[str, str | float] = {}
        for key, value in options.items():
            is_value = isinstance(value, str | int | float) and not isinstance(value, bool)
            if key in CONFIG_FIELDS and is_value:
                kept[key] = value
            else:
                logger.warning("ignoring %s: %s.%s is not a run option", path, name, key)
        settings[name] = kept
    return settings


FileStamp = tuple[str, int, int]
"""A file's path, size in bytes and modification time in ns: a changed file gets a new one."""


@dataclass(frozen=True, slots=True)
class ListedExample:
    """What inspecting an example file gives the listing: its stem, title, code, params."""

    name: str
    title: str
    code: str
    params: dict[str, Any]


class ExampleShelf:
    """Each example file's listing by its FileStamp, inspected once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listed: dict[str, tuple[FileStamp, ListedExample]] = {}

    def example(self, path: Path) -> ListedExample:
        """The example in `path`, inspected again only when the file changed."""
        status = path.stat()
        stamp = (str(path), status.st_size, status.st_mtime_ns)
        with self._lock:
            found = self._listed.get(stamp[0])
        if found is not None and found[0] == stamp:
            return found[1]
        code = path.read_text("utf-8")
        inspection = inspect_source(code, path.name)
        example = ListedExample(path.stem, inspection.title, code, dict(inspection.defaults))
        with self._lock:
            self._listed[stamp[0]] = (stamp, example)
        return example


def example_shelf(connection: HTTPConnection) -> ExampleShelf:
    """The app's shelf (one made for an app that has none, as a test's bare app)."""
    shelf: ExampleShelf | None = getattr(connection.app.state, "example_shelf", None)
    if shelf is None:
        shelf = connection.app.state.example_shelf = ExampleShelf()
    return shelf


@router.get("/api/examples")
def list_examples(settings: SettingsDep, connection: HTTPConnection) -> list[Example]:
    """Every file in the examples folder, by name, with the run options it needs."""
    options = example_settings(settings.examples_dir)
    shelf = example_shelf(connection)
    listed = [shelf.example(path) for path in sorted(settings.examples_dir.glob("*.py"))]
    return [
        Example(
            name=example.name,
            title=example.title,
            code=example.code,
            params=example.params,
            settings=options.get(example.name, {}),
        )
        for example in listed
    ]
