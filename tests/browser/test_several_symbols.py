"""A trader runs the relative-strength example over BTCUSDT and ETHUSDT from the run form's
"More symbols in the same account", then reads the Symbol column of the trades table and
switches the price chart between the two symbols with its Symbol picker."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.test_runs import run_button
from tests.browser.ui import choose_dataset, open_example, screenshot, set_period, wait_for_results


def test_a_run_over_two_symbols_shows_each_symbol(page: Page) -> None:
    open_example(page, "relative_strength")
    assert choose_dataset(page, "1h") == "BTCUSDT-1h"
    set_period(page, "2023-01-01", "2023-03-31")
    page.locator("#more-symbols summary").click()
    page.locator("#run-more-datasets").select_option(["ETHUSDT-1h"])
    run_button(page)
    wait_for_results(page)

    page.locator("#tab-trades").click()
    cells = page.locator("#trades-table tbody tr td:nth-child(2)")
    expect(cells.first).to_be_visible()  # the rows are in (an empty table has one cell)
    expect(page.locator('#trades-table th[data-key="symbol"]')).to_be_visible()
    symbols = cells.all_inner_texts()
    assert set(symbols) == {"BTCUSDT", "ETHUSDT"}

    page.locator("#tab-chart").click()
    picker = page.locator("#candle-symbol")
    expect(picker).to_be_visible()
    expect(picker.locator("option")).to_have_text(["BTCUSDT", "ETHUSDT"])
    with page.expect_response(lambda r: "/candles?symbol=ETHUSDT" in r.url):
        picker.select_option("ETHUSDT")
    expect(picker).to_have_value("ETHUSDT")
    # ETHUSDT's candles (the sample starts near 1,200, BTCUSDT's near 16,500)
    last_close = page.locator("#candle-chart").evaluate(
        "(el) => el.chartApi.panes()[0].getSeries()[0].data().at(-1).close"
    )
    assert last_close < 5_000
    screenshot(page, "several-symbols-chart")
