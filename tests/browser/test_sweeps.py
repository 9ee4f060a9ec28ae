"""The sweep page: a small grid sweep started from the form fills the live trials table, the
heatmap's cells equal the trials' metrics, and a trial opens as a normal run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.ui import RUN_TIMEOUT_MS, PageProblems, screenshot


@pytest.fixture
def sweep_page(chromium: Browser, server_url: str) -> Iterator[Page]:
    """The sweep page, opened and ready; fails afterwards on a JavaScript error or a 5xx."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    problems = PageProblems(tab)
    tab.goto(f"{server_url}/sweeps")
    tab.wait_for_selector("body[data-ready=true]", timeout=30_000)
    yield tab
    context.close()
    assert not problems.errors, "the page had problems:\n" + "\n".join(problems.errors)


def tick_range(page: Page, name: str, low: str, high: str, step: str) -> None:
    page.get_by_label(f"{name} search").check()
    page.get_by_label(f"{name} from").fill(low)
    page.get_by_label(f"{name} to").fill(high)
    page.get_by_label(f"{name} step").fill(step)


@pytest.mark.slow
def test_a_grid_sweep_fills_the_table_and_heatmap_then_opens_a_trial(sweep_page: Page) -> None:
    page = sweep_page
    page.get_by_label("Strategy", exact=True).select_option("example:sma_crossover")
    expect(page.get_by_label("fast search")).to_be_visible()
    dataset = page.get_by_label("Dataset")
    names = dataset.locator("option").evaluate_all("(options) => options.map((o) => o.value)")
    dataset.select_option(next(name for name in names if name.endswith("-1h")))
    page.get_by_label("Start (UTC)").fill("2023-01-01")
    page.get_by_label("End (UTC)").fill("2023-03-01")
    tick_range(page, "fast", "5", "15", "5")
    tick_range(page, "slow", "30", "40", "10")
    page.get_by_label("Objective", exact=True).select_option("total_return")
    page.get_by_role("button", name="Start sweep").click()

    expect(page.get_by_label("Sweep status")).to_have_text("done", timeout=RUN_TIMEOUT_MS)
    rows = page.locator("#trials-table tbody tr")
    expect(rows).to_have_count(6)
    expect(page.locator("#sweep-progress")).to_contain_text("6 / 6 trials")
    screenshot(page, "sweep-done")

    # Every heatmap cell (fast x slow, one trial each) equals its trial's total_return.
    sweep_id = page.evaluate("new URLSearchParams(location.search).get('sweep')")
    trials = page.evaluate(
        "async (id) => (await (await fetch(`/api/sweeps/${id}/trials`)).json()).trials", sweep_id
    )
    assert len(trials) == 6
    cells = page.locator("#heatmap rect.heat-cell")
    expect(cells).to_have_count(6)
    shown = {
        (json.loads(c["x"]), json.loads(c["y"])): float(c["value"])
        for c in cells.evaluate_all(
            "(cells) => cells.map((c) => ({x: c.dataset.x, y: c.dataset.y, "
            "value: c.dataset.value}))"
        )
    }
    expected = {
        (t["params"]["fast"], t["params"]["slow"]): t["metrics"]["total_return"] for t in trials
    }
    assert shown == expected
    expect(page.locator("#parallel polyline.parallel-line")).to_have_count(6)

    # Sorting by total_return puts the best trial first.
    page.locator("#trials-table thead button.sort[data-key='metric:total_return']").click()
    best = max(trials, key=lambda t: t["metrics"]["total_return"])
    expect(rows.first).to_have_attribute("data-number", str(best["number"]))

    # The best trial opens as a normal run on the editor page, with the same total return.
    rows.first.get_by_role("button", name="Open as run").click()
    page.wait_for_url("**/?run=*")
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    run_id = page.evaluate("new URLSearchParams(location.search).get('run')")
    run = page.evaluate(
        """async (id) => {
            for (;;) {
                const run = await (await fetch(`/api/runs/${id}`)).json();
                if (["done", "failed", "cancelled"].includes(run.status)) return run;
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
        }""",
        run_id,
    )
    assert run["status"] == "done"
    assert run["params"] == best["params"]
    assert run["metrics"]["total_return"] == best["metrics"]["total_return"]


@pytest.mark.slow
def test_a_walkforward_draws_its_folds_and_the_stitched_curve(sweep_page: Page) -> None:
    page = sweep_page
    page.get_by_label("Strategy", exact=True).select_option("example:sma_crossover")
    expect(page.get_by_label("fast search")).to_be_visible()
    dataset = page.get_by_label("Dataset")
    names = dataset.locator("option").evaluate_all("(options) => options.map((o) => o.value)")
    dataset.select_option(next(name for name in names if name.endswith("-1h")))
    page.get_by_label("Start (UTC)").fill("2023-01-01")
    page.get_by_label("End (UTC)").fill("2023-06-30")
    tick_range(page, "fast", "5", "10", "5")
    page.get_by_label("Objective", exact=True).select_option("total_return")
    page.locator("#walk-enabled").check()
    page.get_by_role("spinbutton", name="Folds").fill("2")
    page.get_by_role("button", name="Start sweep").click()

    expect(page.get_by_label("Sweep status")).to_have_text("done", timeout=RUN_TIMEOUT_MS)
    walk_id = page.evaluate("new URLSearchParams(location.search).get('sweep')")
    walk = page.evaluate("async (id) => (await fetch(`/api/walkforwards/${id}`)).json()", walk_id)
    folds = walk["statistics"]["folds"]
    assert [fold["fold"] for fold in folds] == [1, 2]
    tests = page.locator("#walk-timeline rect.fold-test")
    expect(tests).to_have_count(2)
    expect(page.locator("#walk-timeline rect.fold-train")).to_have_count(2)
    starts = tests.evaluate_all("(rects) => rects.map((r) => r.dataset.start)")
    assert starts == [fold["test_start"] for fold in folds]
    expect(page.locator("#walk-timeline polyline.stitched")).to_have_count(1)
    expect(page.locator("#folds-table tbody tr")).to_have_count(2)
    expect(page.locator("#walk-summary")).to_contain_text("Walk-forward efficiency")
    screenshot(page, "walkforward-done")
