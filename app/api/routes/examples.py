"""GET /api/examples: the example strategies users start from, with the run options each needs."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

from fastapi import APIRouter

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


@router.get("/api/examples")
def list_examples(settings: SettingsDep) -> list[Example]:
    """Every file in the examples folder, by name, with the run options it needs."""
    options = example_settings(settings.examples_dir)
    examples = []
    for path in sorted(settings.examples_dir.glob("*.py")):
        code = path.read_text("utf-8")
        inspection = inspect_source(code, path.name)
        examples.append(
            Example(
                name=path.stem,
                title=inspection.title,
                code=code,
                params=inspection.defaults,
                settings=options.get(path.stem, {}),
            )
        )
    return examples
