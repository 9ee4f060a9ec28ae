"""The run form's inputs, generated from RunConfig's field table (templates/index.html renders
them), so the page offers the defaults and bounds the engine enforces.

Fees and rates are fractions in RunConfig; the form shows them in percent (`scale` 100) and
static/js/runform.js divides by `scale` before sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from app.engine import OPTION_FIELDS, ConfigField, Mode

PERCENT_FIELDS: Final = frozenset({"fee_maker", "fee_taker", "funding_rate", "risk_free_rate"})


@dataclass(frozen=True, slots=True)
class FormInput:
    """One input of the run form; `value`, `minimum`, `maximum` are in the form's unit."""

    name: str
    label: str
    title: str
    value: str
    minimum: str
    maximum: str
    scale: float
    choices: tuple[str, ...]
    is_minimum_exclusive: bool
    is_maximum_exclusive: bool


def _text(value: float | None, scale: float) -> str:
    return "" if value is None else f"{value * scale:.12g}"


def form_input(spec: ConfigField) -> FormInput:
    """The form input of one option field."""
    scale = 100.0 if spec.name in PERCENT_FIELDS else 1.0
    unit = " %" if scale == 100.0 else ""
    default = spec.default.value if isinstance(spec.default, Mode) else spec.default
    return FormInput(
        name=spec.name,
        label=f"{spec.help}{unit}",
        title=spec.describe(),
        value=str(default) if spec.choices else _text(float(default), scale),
        minimum=_text(spec.minimum, scale),
        maximum=_text(spec.maximum, scale),
        scale=scale,
        choices=tuple(str(c.value if isinstance(c, Mode) else c) for c in spec.choices),
        is_minimum_exclusive=spec.is_minimum_exclusive,
        is_maximum_exclusive=spec.is_maximum_exclusive,
    )


def run_form_inputs() -> dict[str, FormInput]:
    """Every RunConfig option as the run form shows it, by field name."""
    return {spec.name: form_input(spec) for spec in OPTION_FIELDS}
