"""Display preferences: the light theme restyles the page, the editor and the charts at once;
the time zone moves every displayed time (tables, charts, history) while the run form, the
stored data and the exports stay UTC; both are remembered in the browser."""

from __future__ import annotations

from datetime import datetime, timedelta

from playwright.sync_api import Page, expect

from tests.browser.test_runs import run_button
from tests.browser.ui import choose_dataset, open_example, screenshot, wait_for_results

DARK_BACKGROUND = "rgb(13, 17, 23)"  # --bg of static/css/app.css
LIGHT_BACKGROUND = "rgb(246, 248, 250)"


def chart_background(page: Page) -> str:
    color: str = page.locator("#equity-chart").evaluate(
        "(el) => el.chartApi.options().layout.background.color"
    )
    return color


def test_the_light_theme_follows_everywhere_and_is_remembered(page: Page) -> None:
    open_example(page, "buy_and_hold")
    choose_dataset(page, "1h")
    run_button(page)
    wait_for_results(page)
    expect(page.locator("#equity-chart canvas").first).to_be_visible()
    body = page.locator("body")
    expect(body).to_have_css("background-color", DARK_BACKGROUND)
    expect(page.locator("#editor .monaco-editor.vs-dark")).to_have_count(1)
    assert chart_background(page) == "#161b22"

    page.get_by_role("button", name="Theme").click()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(body).to_have_css("background-color", LIGHT_BACKGROUND)
    expect(page.locator("#editor .monaco-editor.vs")).to_have_count(1)  # Monaco's light theme
    assert chart_background(page) == "#ffffff"  # the open chart changed with the page
    screenshot(page, "34-light-theme")

    page.reload()
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    expect(page.locator("html")).to_have_attribute("data-theme", "light")
    expect(body).to_have_css("background-color", LIGHT_BACKGROUND)
    expect(page.locator("#editor .monaco-editor.vs")).to_have_count(1)
    page.get_by_role("button", name="Theme").click()  # and back
    expect(body).to_have_css("background-color", DARK_BACKGROUND)
    expect(page.locator("#editor .monaco-editor.vs-dark")).to_have_count(1)


def entry_cells(page: Page) -> tuple[str, list[str]]:
    """The Entry column's header and its first cells in the trades table."""
    table = page.locator("#trades-table")
    headers: list[str] = table.locator("thead th").all_inner_texts()
    index = next(i for i, text in enumerate(headers) if text.startswith("Entry"))
    cells: list[str] = table.locator(f"tbody tr td:nth-child({index + 1})").all_inner_texts()
    return headers[index], cells[:3]


def shifted(utc_text: str, minutes: int) -> str:
    moment = datetime.strptime(utc_text, "%Y-%m-%d %H:%M") + timedelta(minutes=minutes)
    return moment.strftime("%Y-%m-%d %H:%M")


def test_times_follow_the_chosen_zone_and_storage_stays_utc(page: Page) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    run_button(page)
    wait_for_results(page)
    expect(page.locator("#equity-chart canvas").first).to_be_visible()
    page.get_by_role("tab", name="Trades").click()
    header, utc_cells = entry_cells(page)
    assert header == "Entry (UTC)" and utc_cells, (header, utc_cells)

    page.get_by_label("Time zone").select_option("Asia/Tokyo")  # UTC+09:00, no DST
    expect(page.locator("#trades-table thead")).to_contain_text("Entry (Asia/Tokyo)")
    header, local_cells = entry_cells(page)
    assert local_cells == [shifted(cell, 540) for cell in utc_cells]
    expect(page.locator("#history-table thead")).to_contain_text("Created (Asia/Tokyo)")
    expect(page.locator("#metrics-table")).to_contain_text("Asia/Tokyo")  # start and end
    crosshair = page.locator("#equity-chart").evaluate(
        "(el) => el.chartApi.options().localization.timeFormatter(1672534800)"
    )
    assert crosshair == "2023-01-01 10:00"  # 01:00 UTC
    screenshot(page, "35-time-zone")

    page.reload()  # remembered in this browser
    page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    expect(page.get_by_label("Time zone")).to_have_value("Asia/Tokyo")
    expect(page.get_by_label("Start (UTC)")).to_be_visible()  # the run form stays UTC
    expect(page.locator("#dataset-info")).to_contain_text("2023-01-01 00:00 → 2023-12-31 23:00 UTC")
    page.get_by_label("Time zone").select_option("UTC")


def test_format_time_follows_daylight_saving_in_the_zone(page: Page) -> None:
    times = page.evaluate(
        """async () => {
          localStorage.setItem("strategylab.timezone", "America/New_York");
          const { formatTime } = await import("/static/js/format.js");
          const shown = [formatTime("2023-01-15T12:00:00Z"), formatTime("2023-07-15T12:00:00Z")];
          localStorage.setItem("strategylab.timezone", "Not/AZone");
          shown.push(formatTime("2023-07-15T12:00:00Z"));  // an unknown zone falls back to UTC
          localStorage.removeItem("strategylab.timezone");
          return shown;
        }"""
    )
    assert times == ["2023-01-15 07:00", "2023-07-15 08:00", "2023-07-15 12:00"]
