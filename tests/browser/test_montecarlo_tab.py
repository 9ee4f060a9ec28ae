"""The run page's Monte Carlo tab: simulate a finished run, see its intervals, P(ruin) and the
fan chart, and see them again when the run is reopened."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.ui import (
    RUN_TIMEOUT_MS,
    choose_dataset,
    open_example,
    screenshot,
    wait_for_results,
)


def test_a_finished_run_is_simulated_from_its_monte_carlo_tab(page: Page) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    page.get_by_role("button", name="Run backtest").click()
    expect(page.get_by_label("Run status")).to_have_text("done", timeout=RUN_TIMEOUT_MS)
    wait_for_results(page)

    page.get_by_role("tab", name="Monte Carlo").click()
    panel = page.locator("#panel-montecarlo")
    expect(panel).to_be_visible()
    expect(page.locator("#mc-status")).to_have_text("Not simulated yet.")
    page.get_by_label("Method").select_option("shuffle")
    page.get_by_label("Simulations").fill("500")
    page.get_by_role("button", name="Simulate").click()

    expect(page.locator("#mc-status")).to_contain_text("shuffle: 500 simulations, seed 1")
    expect(page.locator("#mc-status")).to_contain_text("P(equity ever <= 0.5 x start)")
    table = page.get_by_role("table", name="Monte Carlo intervals")
    expect(table.locator("tbody tr")).to_have_count(5)
    expect(table).to_contain_text("Max drawdown")
    expect(table.locator("thead")).to_contain_text("99 % interval")
    expect(page.locator("#mc-fan canvas").first).to_be_visible()
    screenshot(page, "montecarlo-tab")

    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    page.get_by_role("tab", name="Monte Carlo").click()
    expect(page.locator("#mc-status")).to_contain_text("shuffle: 500 simulations", timeout=15_000)
