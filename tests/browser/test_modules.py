"""The page's pure modules, run in the browser: params shown, CSV, equity shapes, formats."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from sandbox import inspect_source

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "strategies_examples").glob("*.py"))


@pytest.fixture(scope="module")
def page(chromium: Browser, server_url: str) -> Iterator[Page]:
    """One bare page on the server's origin (these modules need no editor and keep no state)."""
    context = chromium.new_context()
    tab = context.new_page()
    tab.goto(f"{server_url}/static/favicon.svg")
    yield tab
    context.close()


def call_module(page: Page, module: str, function: str, *args: Any) -> Any:
    """Imports /static/js/<module> in the page and returns function(*args) as JSON."""
    return page.evaluate(
        """async ([module, name, args]) => {
            const loaded = await import(`/static/js/${module}`);
            return loaded[name](...args);
        }""",
        [module, function, list(args)],
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_params_shown_in_the_page_are_the_sandboxs_inspection(page: Page, example: Path) -> None:
    inspection = inspect_source(example.read_text())
    params = call_module(page, "params.js", "paramsFromInspection", inspection.to_dict())
    assert {p["name"]: p["value"] for p in params} == inspection.defaults
    assert [p["kind"] for p in params] == [p.kind for p in inspection.params]


def test_params_keep_their_kinds(page: Page) -> None:
    code = (
        "class A(Strategy):\n"
        "    params = {\n"
        '        "n": 3,  # a comment, with a comma\n'
        '        "x": 2.0, "on": True, "label": "a,b",\n'
        "    }\n"
    )
    answer = inspect_source(code).to_dict()
    params = call_module(page, "params.js", "paramsFromInspection", answer)
    assert [(p["name"], p["kind"]) for p in params] == [
        ("n", "int"),
        ("x", "float"),
        ("on", "bool"),
        ("label", "str"),
    ]
    assert [p["value"] for p in params] == [3, 2.0, True, "a,b"]


def test_csv_quotes_what_needs_quoting(page: Page) -> None:
    columns = [{"key": "side"}, {"key": "reason"}, {"key": "pnl"}]
    rows = [{"side": "long", "reason": 'said "no", twice', "pnl": -1.5}, {"side": "short"}]
    csv = call_module(page, "table.js", "toCsv", columns, rows)
    assert csv == 'side,reason,pnl\r\nlong,"said ""no"", twice",-1.5\r\nshort,,\r\n'


@pytest.mark.parametrize(
    "payload",
    [
        {"time": [1_672_531_200_000_000_000, 1_672_534_800_000_000_000], "equity": [100.0, 101.0]},
        {"points": [[1_672_531_200_000, 100.0], [1_672_534_800_000, 101.0]]},
        [{"time": "2023-01-01T00:00:00Z", "equity": 100.0}, {"time": 1_672_534_800, "value": 101}],
    ],
    ids=["parallel-arrays-ns", "pairs-ms", "records-mixed"],
)
def test_equity_curves_in_any_shape_become_chart_points(page: Page, payload: object) -> None:
    points = call_module(page, "format.js", "toEquityPoints", payload)
    assert points == [
        {"time": 1_672_531_200, "value": 100.0},
        {"time": 1_672_534_800, "value": 101.0},
    ]


def test_times_are_shown_in_utc(page: Page) -> None:
    assert call_module(page, "format.js", "formatTime", 1_672_534_800_000_000_000) == (
        "2023-01-01 01:00"
    )
    assert call_module(page, "format.js", "formatDuration", 3_725) == "1 h 02 m"


def test_indicator_points_leave_gaps_where_there_is_no_value(page: Page) -> None:
    points = call_module(page, "charts.js", "indicatorPoints", [10, 20, 30], [None, 1.5, 2.0])
    assert points == [{"time": 10}, {"time": 20, "value": 1.5}, {"time": 30, "value": 2.0}]


@pytest.mark.parametrize(
    ("value", "tone"), [(2.5, "gain"), (-0.01, "loss"), (0, ""), (None, ""), ("x", "")]
)
def test_pnl_cells_are_toned_by_sign(page: Page, value: object, tone: str) -> None:
    assert call_module(page, "results.js", "signTone", value) == tone
