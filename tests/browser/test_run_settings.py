"""An old run shows its settings, reruns identically and loads them into the form; a run with
refused orders says so above its results."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.browser.test_runs import run_button
from tests.browser.ui import (
    RUN_TIMEOUT_MS,
    api_json,
    choose_dataset,
    open_example,
    screenshot,
    set_period,
    wait_for_results,
)


def shown_run(page: Page) -> str:
    return parse_qs(urlsplit(page.url).query)["run"][0]


def test_an_old_run_shows_its_settings_reruns_identically_and_loads_them(
    page: Page, server_url: str
) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    set_period(page, "2023-02-01", "2023-03-31")
    page.locator("#run-leverage").fill("20")
    page.get_by_label("fast", exact=True).fill("7")
    run_button(page)
    wait_for_results(page)
    first = shown_run(page)

    settings = page.get_by_role("table", name="Run settings")
    expect(settings).to_contain_text("Futures")
    expect(settings.locator("tr", has_text="Max leverage")).to_contain_text("20")
    expect(settings.locator("tr", has_text="Params")).to_contain_text("fast=7")
    expect(settings.locator("tr", has_text="Period")).to_contain_text("2023-02-01 00:00")
    expect(settings.locator("tr", has_text="Period")).to_contain_text("2023-03-31 23:59")
    expect(settings.locator("tr", has_text="Fees")).to_contain_text("0.02 % / 0.05 %")
    screenshot(page, "27-run-settings")

    page.get_by_role("button", name="Rerun").click()
    expect(page.locator("#results-title")).not_to_contain_text(
        f"run {first[:8]}", timeout=RUN_TIMEOUT_MS
    )
    wait_for_results(page)
    second = shown_run(page)
    assert second != first
    old, new = (api_json(server_url, f"/api/runs/{r}") for r in (first, second))
    assert isinstance(old, dict) and isinstance(new, dict)
    assert new["status"] == "done" and new["metrics"] == old["metrics"]
    assert new["config_hash"] == old["config_hash"] and new["code_hash"] == old["code_hash"]
    assert api_json(server_url, f"/api/runs/{second}/trades") == api_json(
        server_url, f"/api/runs/{first}/trades"
    )

    # Change the form, then load the shown run's settings back into it.
    page.get_by_role("radio", name="Spot").check()
    page.get_by_label("fast", exact=True).fill("12")
    set_period(page, "2023-05-01", "2023-06-30")
    page.get_by_role("button", name="Load these settings into the form").click()
    expect(page.get_by_role("radio", name="Futures")).to_be_checked()
    expect(page.locator("#run-leverage")).to_have_value("20")
    expect(page.locator("#run-fee-taker")).to_have_value("0.05")
    expect(page.get_by_label("fast", exact=True)).to_have_value("7")
    expect(page.get_by_label("Start (UTC)")).to_have_value("2023-02-01")
    expect(page.get_by_label("End (UTC)")).to_have_value("2023-03-31")


def test_refused_orders_get_a_banner_with_the_count_and_first_reason(page: Page) -> None:
    open_example(page, "high_leverage_liquidation")
    choose_dataset(page, "1h")
    set_period(page, "2023-02-01", "2023-02-28")
    page.get_by_role("radio", name="Futures").check()
    page.locator("#run-leverage").fill("10")  # the example asks for 100x
    run_button(page)
    wait_for_results(page)
    banner = page.get_by_role("status", name="Refused orders")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("orders were refused")
    expect(banner).to_contain_text("leverage")
    screenshot(page, "28-refused-banner")


def test_examples_set_the_market_and_leverage_they_need(page: Page) -> None:
    open_example(page, "rsi_mean_reversion")
    expect(page.get_by_role("radio", name="Spot")).to_be_checked()
    expect(page.locator("#run-leverage")).to_be_disabled()
    open_example(page, "high_leverage_liquidation")
    expect(page.get_by_role("radio", name="Futures")).to_be_checked()
    expect(page.locator("#run-leverage")).to_have_value("100")
