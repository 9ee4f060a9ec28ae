"""GET /api/examples: the example strategies users start from."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import SettingsDep
from app.api.schemas import Example
from sandbox import inspect_source

router = APIRouter(tags=["examples"])


@router.get("/api/examples")
def list_examples(settings: SettingsDep) -> list[Example]:
    """Every file in the examples folder, by name."""
    examples = []
    for path in sorted(settings.examples_dir.glob("*.py")):
        code = path.read_text("utf-8")
        inspection = inspect_source(code, path.name)
        examples.append(
            Example(name=path.stem, title=inspection.title, code=code, params=inspection.defaults)
        )
    return examples
