"""GET /api/examples: the example strategies users start from."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.deps import SettingsDep
from app.api.schemas import Example
from app.jobs.sources import default_params, source_title

router = APIRouter(tags=["examples"])


@router.get("/api/examples")
def list_examples(settings: SettingsDep) -> list[Example]:
    """Every file in the examples folder, by name."""
    examples = []
    for path in sorted(settings.examples_dir.glob("*.py")):
        code = path.read_text("utf-8")
        examples.append(
            Example(
                name=path.stem, title=source_title(code), code=code, params=default_params(code)
            )
        )
    return examples
