"""Runs from the page: live progress to 100 %, results, cancel, errors, history and compare."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.browser.ui import (
    RUN_TIMEOUT_MS,
    active_line,
    choose_dataset,
    editor_text,
    open_example,
    screenshot,
    set_period,
    upload_file,
    wait_for_results,
)

# Busy work on every bar keeps this run going for minutes on the 1m sample.
SLOW_STRATEGY = '''"""Slow on purpose, for the cancel test (SLOWRUN)."""
import math

class Slow(Strategy):
    params = {"work": 3000}

    def on_data(self, bar):
        total = 0.0
        for i in range(self.params["work"]):
            total += math.sqrt(i)
'''

# Fails at line 9 once it has run a little.
FAILING_STRATEGY = '''"""Divides by zero after some bars, for the error test (BOOMFAIL)."""


class Fails(Strategy):
    params = {"after": 100}

    def on_data(self, bar):
        if bar.index > self.params["after"]:
            return 1 / 0
'''
FAILING_LINE = 9


def run_button(page: Page) -> None:
    page.get_by_role("button", name="Run backtest").click()


def test_a_run_streams_to_100_percent_and_shows_results(page: Page) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    run_button(page)

    progress = page.get_by_role("progressbar", name="Run progress")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_label("Run status")).to_have_text("done")
    expect(page.locator("#live-stats")).to_contain_text("bars")
    wait_for_results(page)

    metrics = page.get_by_role("table", name="Metrics")
    expect(metrics).to_contain_text("Total return")
    expect(metrics).to_contain_text("Max drawdown")
    expect(page.locator("#equity-chart canvas").first).to_be_visible()
    screenshot(page, "04-run-results")

    page.get_by_role("tab", name="Trades").click()
    trades = page.get_by_role("table", name="Trades")
    expect(trades.locator("tbody tr").first).to_be_visible()
    pnl_header = trades.get_by_role("columnheader", name="PnL")
    pnl_header.get_by_role("button").click()
    expect(pnl_header).to_have_attribute("aria-sort", "ascending")
    pnl_header.get_by_role("button").click()
    expect(pnl_header).to_have_attribute("aria-sort", "descending")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Export trades as CSV").click()
    csv_path = download_info.value.path()
    header, *rows = Path(csv_path).read_text().splitlines()
    assert header.startswith("seq,side,entry_time")
    assert len(rows) == trades.locator("tbody tr").count()

    # Candles of the traded period (GET /api/runs/{id}/candles) with the trades marked.
    page.get_by_role("tab", name="Price chart").click()
    expect(page.locator("#candle-note")).to_have_text(re.compile(r"long entry"))
    expect(page.locator("#candle-chart canvas").first).to_be_visible()
    screenshot(page, "05-price-chart")


def test_cancel_stops_a_long_run(page: Page, tmp_path: Path) -> None:
    strategy = tmp_path / "slow_strategy.py"
    strategy.write_text(SLOW_STRATEGY)
    upload_file(page, strategy)
    choose_dataset(page, "1m")
    run_button(page)

    expect(page.get_by_label("Run status")).to_have_text("running", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#live-stats")).to_contain_text("bars/s", timeout=RUN_TIMEOUT_MS)
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_label("Run status")).to_have_text("cancelled", timeout=30_000)
    expect(page.get_by_role("button", name="Cancel run")).to_be_disabled()
    expect(page.locator("#notice")).to_contain_text("was cancelled")
    expect(page.locator("#notice-error")).to_be_hidden()
    progress = page.get_by_role("progressbar", name="Run progress")
    assert float(progress.get_attribute("aria-valuenow") or "0") < 100
    screenshot(page, "06-cancelled")


def test_a_second_tab_joins_a_running_run_and_can_cancel_it(
    page: Page, chromium: Browser, server_url: str, tmp_path: Path
) -> None:
    strategy = tmp_path / "slow_for_two_tabs.py"
    strategy.write_text(SLOW_STRATEGY)
    upload_file(page, strategy)
    choose_dataset(page, "1m")
    run_button(page)
    expect(page.locator("#live-stats")).to_contain_text("bars/s", timeout=RUN_TIMEOUT_MS)

    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    second = context.new_page()
    try:
        second.goto(f"{server_url}/")
        second.wait_for_selector("body[data-ready=true]", timeout=30_000)
        running = second.get_by_role("table", name="Run history").locator("tbody tr").first
        expect(running).to_contain_text("running")
        running.get_by_role("button", name="Open").click()
        expect(second.get_by_label("Run status")).to_have_text("running")
        expect(second.locator("#live-stats")).to_contain_text("bars/s", timeout=RUN_TIMEOUT_MS)
        screenshot(second, "07-second-tab-joined")
        second.get_by_role("button", name="Cancel run").click()
        expect(second.get_by_label("Run status")).to_have_text("cancelled", timeout=30_000)
    finally:
        context.close()
    expect(page.get_by_label("Run status")).to_have_text("cancelled", timeout=30_000)


def test_a_strategy_error_shows_its_message_and_jumps_to_the_line(
    page: Page, tmp_path: Path
) -> None:
    strategy = tmp_path / "failing_strategy.py"
    strategy.write_text(FAILING_STRATEGY)
    upload_file(page, strategy)
    choose_dataset(page, "1h")
    run_button(page)

    alert = page.get_by_role("alert").filter(has_text="The strategy failed")
    expect(alert.first).to_contain_text(f"line {FAILING_LINE}", timeout=RUN_TIMEOUT_MS)
    expect(alert.first).to_contain_text("division")
    expect(page.get_by_label("Run status")).to_have_text("failed")
    assert active_line(page) == FAILING_LINE
    expect(page.locator("#editor .squiggly-error")).to_have_count(1)
    screenshot(page, "08-strategy-error")

    # Later, with other code in the editor, the results still lead to the failing line.
    open_example(page, "sma_crossover")
    page.get_by_role("button", name=f"Go to line {FAILING_LINE}").click()
    assert "class Fails(Strategy):" in editor_text(page)
    assert active_line(page) == FAILING_LINE


def test_history_opens_and_compares_two_runs(page: Page) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    set_period(page, "2023-02-01", "2023-04-30")
    progress = page.get_by_role("progressbar", name="Run progress")
    for fast in ("10", "5"):
        page.get_by_label("fast", exact=True).fill(fast)
        run_button(page)
        expect(page.get_by_label("Run status")).to_have_text("done", timeout=RUN_TIMEOUT_MS)
        expect(progress).to_have_attribute("aria-valuenow", "100")
        wait_for_results(page)

    history = page.get_by_role("table", name="Run history")
    page.get_by_role("button", name="Refresh").click()
    checkboxes = history.get_by_role("checkbox")
    expect(checkboxes.nth(1)).to_be_visible()
    checkboxes.nth(0).check()
    checkboxes.nth(1).check()
    page.get_by_role("button", name="Compare the two selected runs").click()

    comparison = page.get_by_role("table", name="Run comparison")
    expect(comparison).to_be_visible()
    expect(comparison.locator("thead th")).to_have_count(3)
    expect(comparison).to_contain_text("Total return")
    # The better value is marked (the two runs differ in return).
    expect(comparison.locator("tr", has_text="Total return").locator("td.better")).to_have_count(1)
    expect(page.locator("#compare-chart canvas").first).to_be_visible()
    screenshot(page, "09-compare")

    run_id = history.locator("tbody tr").first.get_attribute("data-run-id")
    assert run_id
    history.get_by_role("button", name=f"Open run {run_id}").click()
    expect(page.locator("#results-title")).to_contain_text(f"run {run_id[:8]}")
