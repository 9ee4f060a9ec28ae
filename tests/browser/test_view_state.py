"""Nothing lost on reload: drafts per strategy, the open strategy/run/tab in the address,
back/forward, a shared link in a fresh browser, and a running run reattached after reload."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_runs import SLOW_STRATEGY, run_button
from tests.browser.ui import (
    RUN_TIMEOUT_MS,
    choose_dataset,
    editor_text,
    open_example,
    screenshot,
    set_period,
    upload_file,
    wait_for_results,
)


def address(page: Page) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(page.url).query).items()}


def reload(page: Page) -> None:
    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)


def test_reload_keeps_the_draft_and_the_form_per_strategy(page: Page) -> None:
    open_example(page, "rsi_mean_reversion")
    assert address(page)["strategy"] == "example:rsi_mean_reversion"
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("# DRAFTMARK kept across reloads\n")
    page.locator("#run-cash").fill("7777")
    expect(page.get_by_role("button", name="Discard draft")).to_be_visible()

    reload(page)
    assert "DRAFTMARK" in editor_text(page)
    expect(page.locator("#run-cash")).to_have_value("7777")
    expect(page.locator("#notice")).to_contain_text("unsaved changes")
    screenshot(page, "22-draft-restored")

    # Another strategy has its own draft (none): the example opens as shipped.
    open_example(page, "sma_crossover")
    assert "DRAFTMARK" not in editor_text(page)
    expect(page.get_by_role("button", name="Discard draft")).to_be_hidden()
    # Back returns to the first strategy, with its draft.
    page.go_back()
    expect(page.locator("#editor .view-lines")).to_contain_text("DRAFTMARK")
    page.get_by_role("button", name="Discard draft").click()
    assert "DRAFTMARK" not in editor_text(page)
    reload(page)
    assert "DRAFTMARK" not in editor_text(page)


def test_the_run_and_tab_are_in_the_address_for_reload_back_and_links(
    page: Page, chromium: Browser, server_url: str
) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    set_period(page, "2023-02-01", "2023-03-31")
    run_button(page)
    wait_for_results(page)
    run_id = address(page)["run"]
    page.get_by_role("tab", name="Trades").click()
    assert address(page)["tab"] == "trades"

    reload(page)
    expect(page.locator("#results-title")).to_contain_text(f"run {run_id[:8]}")
    expect(page.get_by_role("tab", name="Trades")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("table", name="Trades").locator("tbody tr").first).to_be_visible()

    page.go_back()  # before the run: no results
    expect(page.locator("#results")).to_be_hidden()
    assert "run" not in address(page)
    page.go_forward()
    expect(page.locator("#results-title")).to_contain_text(f"run {run_id[:8]}")
    expect(page.get_by_role("tab", name="Trades")).to_have_attribute("aria-selected", "true")

    # A shared link in a browser that has never seen this page.
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = context.new_page()
        other.goto(f"{server_url}/?strategy=example:sma_crossover&run={run_id}&tab=orders")
        other.wait_for_selector("body[data-ready=true]", timeout=30_000)
        expect(other.locator("#results-title")).to_contain_text(f"run {run_id[:8]}")
        expect(other.get_by_role("tab", name="Orders")).to_have_attribute("aria-selected", "true")
        expect(other.get_by_role("table", name="Orders").locator("tbody tr").first).to_be_visible()
        assert "class SmaCross(Strategy):" in editor_text(other)
        screenshot(other, "23-shared-link")
    finally:
        context.close()


def test_a_running_run_reattaches_after_reload(page: Page, tmp_path: Path) -> None:
    strategy = tmp_path / "slow_reattach.py"
    strategy.write_text(SLOW_STRATEGY)
    upload_file(page, strategy)
    choose_dataset(page, "1m")
    run_button(page)
    expect(page.locator("#live-stats")).to_contain_text("bars/s", timeout=RUN_TIMEOUT_MS)
    run_id = address(page)["run"]
    assert address(page)["strategy"].startswith("strategy:")

    reload(page)
    expect(page.locator("#live")).to_be_visible()
    expect(page.locator("#live-title")).to_contain_text(f"Run {run_id[:8]}")
    expect(page.locator("#live-title")).to_contain_text("Slow")
    expect(page.get_by_label("Run status")).to_have_text("running")
    expect(page.locator("#live-stats")).to_contain_text(
        re.compile(r"bars/s"), timeout=RUN_TIMEOUT_MS
    )
    assert "class Slow(Strategy):" in editor_text(page)
    screenshot(page, "24-reattached")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_label("Run status")).to_have_text("cancelled", timeout=30_000)
