"""IndicatorFrame column lookup: full names, short forms, ambiguity, and the remembered names."""

from __future__ import annotations

import numpy as np
import pytest

from app.engine import IndicatorFrame, SeriesView, indicators
from app.engine.feed import Cursor

COLUMNS = ("MACD_12_26_9", "MACDh_12_26_9", "MACDs_12_26_9", "BBL_5_2.0", "BBL_5_3.0", "X")


def frame() -> IndicatorFrame:
    cursor = Cursor()
    cursor.end = 3
    views = {name: SeriesView(np.full(3, float(i)), cursor, name) for i, name in enumerate(COLUMNS)}
    return IndicatorFrame("mixed", views)


@pytest.mark.parametrize(
    ("key", "column"),
    [
        ("MACDh_12_26_9", "MACDh_12_26_9"),  # the full name
        ("MACDh", "MACDh_12_26_9"),  # the short form
        ("macdh", "MACDh_12_26_9"),  # case-insensitive
        ("MACDS", "MACDs_12_26_9"),
        ("x", "X"),  # a name without a settings suffix
        ("BBL_5_3.0", "BBL_5_3.0"),  # a full name whose short form is ambiguous
    ],
)
def test_a_column_is_found_by_full_name_or_short_form(key: str, column: str) -> None:
    found = frame()
    for _ in range(2):  # the second lookup comes from the remembered names
        assert found[key].name == column


@pytest.mark.parametrize("key", ["BBL", "bbl", "MACDx", "", "12"])
def test_an_ambiguous_or_unknown_name_is_a_key_error_naming_the_columns(key: str) -> None:
    found = frame()
    for _ in range(2):  # refused names are not remembered
        with pytest.raises(KeyError, match="columns: MACD_12_26_9, MACDh_12_26_9"):
            found[key]


def test_a_key_that_is_not_text_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="pick one by name first"):
        frame()[0]  # type: ignore[index]


def test_a_str_subclass_is_looked_up_by_its_text() -> None:
    class Name(str):
        __slots__ = ()

    assert frame()[Name("macdh")].name == "MACDh_12_26_9"


def test_the_remembered_names_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every case variant of a short form resolves; only the first ones are kept.
    monkeypatch.setattr(indicators, "_FOUND_NAMES", 10)
    found = frame()
    variants = [
        "".join(c.upper() if bit & (1 << i) else c for i, c in enumerate("macdh"))
        for bit in range(32)
    ]
    for _ in range(3):
        for variant in variants:
            assert found[variant].name == "MACDh_12_26_9"
    assert len(found._found) == 10
    assert found.columns == list(COLUMNS)
