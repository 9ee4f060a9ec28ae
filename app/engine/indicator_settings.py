"""Indicator requests from strategy code: copied once into plain values, then checked against
each indicator's allow-list (app/engine/indicator_rules.py).

The order matters. The request is read exactly once, into a new dict of exact builtin types
(bool, int, float, str: never a subclass, whose comparisons or `lower()` could answer one thing
to the check and another to pandas-ta), and only that copy is checked and computed with. A
mapping that answers differently each time it is read, a key or value whose class overrides
`__eq__`, `__lt__` or `__hash__`, or a NaN that compares false with everything, therefore has
nothing left to vary by the time the check runs.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from functools import cache
from itertools import islice

import numpy as np

from app.engine.errors import IndicatorError
from app.engine.indicator_rules import (
    ANY_ALLOWED,
    EXCLUDED_SETTINGS,
    MAX_TEXT_CHARS,
    REFUSED_INDICATORS,
    REQUIRED_SETTINGS,
    SIGNATURE_SETTINGS,
    IndicatorArg,
    SettingRule,
    allowed_settings,
)

MAX_SETTINGS = 32

# Exact numpy scalar types (C types, so their conversions cannot be overridden) taken as the
# builtin they stand for: arithmetic on arrays hands strategies these.
_NUMPY_INTEGERS = frozenset({np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16})
_NUMPY_FLOATS = frozenset({np.float16, np.float32, np.float64})

PlainSettings = Mapping[str, IndicatorArg]


@cache
def known_indicators() -> frozenset[str]:
    """Every indicator name in the rules, the refused ones included."""
    return frozenset(SIGNATURE_SETTINGS)


def plain_name(name: object) -> str:
    """The indicator name as a new lower-case exact str."""
    if type(name) is not str:
        raise IndicatorError(
            f"the indicator name must be text such as 'sma', not {type(name).__name__}"
        )
    if len(name) > MAX_TEXT_CHARS:
        raise IndicatorError(f"unknown indicator {name[:MAX_TEXT_CHARS]!r}...")
    return str.lower(name)


def plain_settings(name: str, settings: object) -> dict[str, IndicatorArg]:
    """One read of `settings` into a new dict of exact bool/int/float/str values."""
    if not isinstance(settings, Mapping):
        raise IndicatorError(f"{name}: settings must be keyword arguments")
    # One pass over items(), at most one pair past the cap: an endless mapping ends here too.
    pairs = list(islice(iter(settings.items()), MAX_SETTINGS + 1))
    if len(pairs) > MAX_SETTINGS:
        raise IndicatorError(f"{name}: {len(pairs)} settings is more than {MAX_SETTINGS}")
    copied: dict[str, IndicatorArg] = {}
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2:
            raise IndicatorError(f"{name}: settings must be keyword arguments")
        key, value = pair
        if type(key) is not str:
            raise IndicatorError(
                f"{name}: a setting name must be plain text, not {type(key).__name__}"
            )
        setting = str(key)  # an exact str: the same object, immutable
        if setting in copied:
            raise IndicatorError(f"{name}: setting '{setting}' is given twice")
        copied[setting] = plain_value(name, setting, value)
    return copied


def plain_value(name: str, setting: str, value: object) -> IndicatorArg:
    """`value` as an exact builtin bool, int, finite float or short str, or IndicatorError."""
    kind = type(value)
    if kind is bool or kind is int:
        return value  # type: ignore[return-value]  # exact types: bool cannot be subclassed
    if kind is float or kind in _NUMPY_FLOATS:
        number = float(value)  # type: ignore[arg-type]
    elif kind in _NUMPY_INTEGERS:
        return int(value)  # type: ignore[call-overload, no-any-return]
    elif kind is np.bool_:
        return bool(value)
    elif kind is str:
        text = str(value)
        if len(text) > MAX_TEXT_CHARS:
            raise _setting_error(
                name, setting, f"{setting} is longer than {MAX_TEXT_CHARS} characters", ""
            )
        return text
    else:
        raise _setting_error(
            name,
            setting,
            f"{setting} must be a number, True/False or text, not {kind.__name__}",
            "bool, int, float or str",
        )
    if not math.isfinite(number):
        raise _setting_error(name, setting, f"{setting}={number!r} is not finite", "")
    return number


def check_settings(name: str, settings: PlainSettings) -> dict[str, IndicatorArg]:
    """The settings as pandas-ta will get them, or IndicatorError naming what is refused.

    `name` and `settings` must already be plain copies (`plain_name`, `plain_settings`).
    """
    if name in REFUSED_INDICATORS:
        raise IndicatorError(f"{name}: refused, '{name}' looks ahead: {REFUSED_INDICATORS[name]}")
    if name not in known_indicators():
        raise IndicatorError(unknown_indicator_message(name))
    rules = allowed_settings(name)
    checked: dict[str, IndicatorArg] = {}
    for setting, value in settings.items():
        rule = rules.get(setting)
        if rule is None:
            raise _not_allowed(name, setting, rules)
        checked[setting] = _checked_value(name, setting, value, rule)
    required = REQUIRED_SETTINGS.get(name)
    if required is not None:
        alternatives, reason = required
        if not any(_is_exactly(checked.get(key), causal) for key, causal in alternatives):
            setting = alternatives[0][0]
            fix = " or ".join(
                f"{key}=<{rules[key].describe()}>" if value is ANY_ALLOWED else f"{key}={value!r}"
                for key, value in alternatives
            )
            raise _setting_error(name, setting, f"refused, {reason}; pass {fix}", fix)
    return checked


def unknown_indicator_message(name: str) -> str:
    close = difflib.get_close_matches(name, sorted(known_indicators()), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown indicator '{name}'{hint} (any pandas-ta indicator name works)"


def _not_allowed(name: str, setting: str, rules: Mapping[str, SettingRule]) -> IndicatorError:
    takes = ", ".join(rules) or "no settings"
    if setting in EXCLUDED_SETTINGS:
        why = EXCLUDED_SETTINGS[setting]
        return _setting_error(
            name,
            setting,
            f"setting '{setting}' is not available: {why}; {name} takes: {takes}",
            takes,
        )
    close = difflib.get_close_matches(setting, list(rules), n=2)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return _setting_error(
        name, setting, f"unknown setting '{setting}'{hint} {name} takes: {takes}", takes
    )


def _checked_value(name: str, setting: str, value: IndicatorArg, rule: SettingRule) -> IndicatorArg:
    kind = type(value)
    accepted = _as_kind(value, rule)
    if accepted is None:
        raise _setting_error(
            name,
            setting,
            f"{setting}={value!r} is refused: {setting} takes {rule.describe()}, "
            f"not {kind.__name__}",
            rule.describe(),
        )
    if rule.choices:
        refusal = rule.refusal(accepted)
        if refusal is not None:
            raise _setting_error(
                name, setting, f"{setting}={value!r} is refused: {refusal}", rule.describe()
            )
        if not any(type(c) is type(accepted) and c == accepted for c in rule.choices):
            raise _setting_error(
                name,
                setting,
                f"{setting}={value!r} is refused: {setting} takes {rule.describe()}",
                rule.describe(),
            )
        return accepted
    if rule.kind is bool:
        return accepted
    low = -math.inf if rule.minimum is None else rule.minimum
    high = math.inf if rule.maximum is None else rule.maximum
    if not low <= float(accepted) <= high:
        raise _setting_error(
            name,
            setting,
            f"{setting}={value!r} is refused: {setting} takes {rule.describe()}",
            rule.describe(),
        )
    return accepted


def _as_kind(value: IndicatorArg, rule: SettingRule) -> IndicatorArg | None:
    """`value` as the rule's type (a whole float for an int, an int for a float), or None."""
    kind = type(value)
    if rule.kind is bool or rule.kind is str:
        return value if kind is rule.kind else None
    if kind is bool or kind is str:
        return None
    if rule.kind is int:
        if kind is int:
            return value
        return int(value) if float(value).is_integer() else None
    return value  # a float setting keeps an int as written: pandas-ta names columns by it


def _setting_error(indicator: str, setting: str, message: str, allowed: str) -> IndicatorError:
    return IndicatorError(
        f"{indicator}: {message}", indicator=indicator, setting=setting, allowed=allowed
    )


def _is_exactly(given: IndicatorArg | None, causal: IndicatorArg | None) -> bool:
    """`given` is the causal value, or, for ANY_ALLOWED (None), was given at all."""
    if causal is ANY_ALLOWED:
        return given is not None
    return type(given) is type(causal) and given == causal
