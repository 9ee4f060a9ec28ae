"""A run's param overrides obey the rules validation puts on the defaults: finite numbers,
whole numbers within ±2**53, printable text; a refusal names the param and never echoes a
long input."""

from __future__ import annotations

import pytest

from app.engine import ParamValue, StrategyDefinitionError
from app.engine.strategy import MAX_PARAM_INT, coerce_params

DEFAULTS: dict[str, ParamValue] = {"ratio": 0.5, "length": 10, "label": "fast", "is_on": False}

REFUSED = {
    "infinite float": ("ratio", float("inf")),
    "nan text for a float": ("ratio", "nan"),
    "1e999 text for a float": ("ratio", "1e999"),
    "int too large for a float": ("ratio", 10**400),
    "infinite float for an int": ("length", float("inf")),
    "int beyond 2**53": ("length", MAX_PARAM_INT + 1),
    "negative int beyond 2**53": ("length", -(10**30)),
    "digits beyond 2**53": ("length", "9" * 30),
    "lone surrogate text": ("label", "\ud800"),
    "terminal escape text": ("label", "\x1b[2J"),
    "newline text": ("label", "a\nliquidated"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_cant_override_a_param_with_a_value_its_default_could_not_be(name: str) -> None:
    param, raw = REFUSED[name]
    with pytest.raises(StrategyDefinitionError, match=f"parameter '{param}'"):
        coerce_params(DEFAULTS, {param: raw})


def test_a_refusal_never_echoes_a_long_value() -> None:
    with pytest.raises(StrategyDefinitionError) as refused:
        coerce_params(DEFAULTS, {"ratio": "x" * 100_000})
    assert len(str(refused.value)) < 300


@pytest.mark.parametrize(
    ("param", "raw", "expected"),
    [
        ("ratio", "0.25", 0.25),
        ("ratio", 3, 3.0),
        ("length", MAX_PARAM_INT, MAX_PARAM_INT),
        ("length", "-12", -12),
        ("length", 4.0, 4),
        ("label", "slow ëé", "slow ëé"),
        ("is_on", "yes", True),
    ],
)
def test_plain_overrides_are_typed_like_their_defaults(
    param: str, raw: object, expected: object
) -> None:
    value = coerce_params(DEFAULTS, {param: raw})[param]
    assert value == expected
    assert type(value) is type(DEFAULTS[param])
