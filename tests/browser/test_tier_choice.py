"""The run form lists the dated maintenance-tier tables; the chosen one is the run's, and loading
the run's settings back selects it again."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, expect

from tests.browser.test_runs import run_button
from tests.browser.ui import api_json, choose_dataset, open_example, set_period, wait_for_results

OLD_TABLE = "binance-usdtm/BTCUSDT@2023-04-16"


def test_the_chosen_tier_table_is_the_runs_and_comes_back_with_its_settings(
    page: Page, server_url: str
) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    set_period(page, "2023-02-01", "2023-02-28")
    tiers = page.get_by_label("Maintenance tiers")
    expect(tiers.locator("option", has_text="BTCUSDT@2024-06-28/2024-09-27")).to_have_count(1)
    tiers.select_option(OLD_TABLE)
    run_button(page)
    wait_for_results(page)
    run_id = parse_qs(urlsplit(page.url).query)["run"][0]
    run = api_json(server_url, f"/api/runs/{run_id}")
    assert isinstance(run, dict)
    assert run["config"]["tier_table"].startswith(f"{OLD_TABLE} (sha256:")
    assert run["provenance"]["tiers"]["brackets"] == 10

    tiers.select_option("")
    page.get_by_role("button", name="Load these settings into the form").click()
    expect(tiers).to_have_value(OLD_TABLE)
