"""Charts a trader can read: in a 900 px window the equity chart opens on the whole run; dense
trade markers go without text but each has a tooltip; a trade row zooms the price chart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_runs import run_button
from tests.browser.ui import (
    api_json,
    choose_dataset,
    open_example,
    screenshot,
    wait_for_results,
)

MARKER_TEXT_LIMIT = 60  # static/js/charts.js


def test_a_narrow_window_fits_the_whole_year_on_the_equity_chart(
    chromium: Browser, server_url: str
) -> None:
    context = chromium.new_context(viewport={"width": 900, "height": 1000})
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(f"{server_url}/", timeout=60_000)
        page.wait_for_selector("body[data-ready=true]", timeout=30_000)
        open_example(page, "buy_and_hold")
        choose_dataset(page, "1h")  # a year of hours: the curve comes decimated to 2,000 points
        run_button(page)
        wait_for_results(page)
        chart = page.locator("#equity-chart")
        expect(chart.locator("canvas").first).to_be_visible()
        page.wait_for_timeout(300)  # the refit runs two animation frames after the data
        visible = chart.evaluate(
            """(el) => {
              const range = el.chartApi.timeScale().getVisibleLogicalRange();
              const n = el.chartApi.panes()[0].getSeries()[0].data().length;
              return {from: range.from, to: range.to, n};
            }"""
        )
        assert visible["n"] >= 1500  # more points than the chart has pixels
        assert visible["from"] <= 0.5 and visible["to"] >= visible["n"] - 1.5, visible
        screenshot(page, "29-narrow-equity")
    finally:
        context.close()


def test_a_year_of_trades_markers_tooltips_zoom_and_the_monthly_heatmap(
    page: Page, server_url: str
) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")  # a year: a few hundred trades
    run_button(page)
    wait_for_results(page)
    run_id = parse_qs(urlsplit(page.url).query)["run"][0]

    # The heatmap's cells equal the monthly returns computed from the full equity curve
    # (the run's equity.csv: every bar), month-end over previous month-end.
    curve = api_json(server_url, f"/api/runs/{run_id}/equity?max_points=1000000")
    assert isinstance(curve, dict) and curve["total_points"] == len(curve["points"])
    month_end: dict[tuple[int, int], float] = {}
    for point in curve["points"]:
        when = datetime.fromtimestamp(point["time"], tz=UTC)
        month_end[(when.year, when.month)] = point["equity"]
    expected, previous = {}, curve["points"][0]["equity"]
    for key, equity in month_end.items():
        expected[key] = equity / previous - 1
        previous = equity
    heatmap = page.get_by_role("table", name="Monthly returns")
    expect(heatmap).to_be_visible()
    cells = heatmap.locator("td[data-month]").evaluate_all(
        "(cells) => cells.map((c) => [+c.dataset.year, +c.dataset.month, +c.dataset.return])"
    )
    assert len(cells) == 12
    for year, month, value in cells:
        assert abs(value - expected[(year, month)]) < 1e-12, (year, month)
    screenshot(page, "33-monthly-heatmap")

    # The buy-and-hold benchmark is drawn beside the equity, ending near the metric's value.
    benchmark = page.locator("#equity-chart").evaluate(
        """(el) => {
          const series = el.chartApi.panes()[0].getSeries()
            .find((s) => s.options().title === 'Buy and hold');
          const data = series ? series.data() : [];
          return data.length ? [data[0].value, data[data.length - 1].value] : null;
        }"""
    )
    run = api_json(server_url, f"/api/runs/{run_id}")
    assert benchmark is not None and isinstance(run, dict)
    bh_return = run["metrics"]["buy_and_hold_return"]
    assert abs(benchmark[1] / benchmark[0] - 1 - bh_return) < 0.05, (benchmark, bh_return)

    # Exports: the whole equity curve (every bar) and the orders, as CSV.
    page.get_by_role("tab", name="Trades").click()
    with page.expect_download() as equity_download:
        page.get_by_role("button", name="Export equity as CSV").click()
    header, *rows = Path(equity_download.value.path()).read_text().splitlines()
    assert header == "time,equity,drawdown,position" and len(rows) == curve["total_points"]
    page.get_by_role("tab", name="Orders").click()
    # close_position() orders show the amount they closed (their fill's), never a placeholder.
    table = page.get_by_role("table", name="Orders")
    expect(table.locator("tbody tr").first).to_be_visible()
    unresolved = table.locator("tr", has_text="share of position").filter(has_text="filled")
    assert unresolved.count() == 0
    first = table.locator("tbody tr").first.locator("td")
    assert first.nth(4).inner_text() == first.nth(5).inner_text() != "0"
    with page.expect_download() as orders_download:
        page.get_by_role("button", name="Export orders as CSV").click()
    header, *rows = Path(orders_download.value.path()).read_text().splitlines()
    orders = api_json(server_url, f"/api/runs/{run_id}/orders")
    assert isinstance(orders, list) and header.startswith("id,") and len(rows) == len(orders)

    page.get_by_role("tab", name="Price chart").click()
    chart = page.locator("#candle-chart")
    expect(chart.locator("canvas").first).to_be_visible()
    markers = chart.evaluate("(el) => el.markersApi.markers()")
    assert len(markers) > 2 * MARKER_TEXT_LIMIT
    assert all(marker["text"] == "" for marker in markers)

    # Hover the candle of the first exit: its tooltip names the trade.
    exit_marker = next(m for m in markers if m["shape"] == "circle")
    page.wait_for_timeout(300)  # the fit runs two animation frames after the data
    chart.scroll_into_view_if_needed()
    x = chart.evaluate(
        "(el, time) => el.chartApi.timeScale().timeToCoordinate(time)", exit_marker["time"]
    )
    box = chart.bounding_box()
    assert box is not None and x is not None
    page.mouse.move(box["x"] + x, box["y"] + box["height"] / 2)
    page.mouse.move(box["x"] + x + 1, box["y"] + box["height"] / 2 + 5)  # the crosshair moves
    tooltip = chart.get_by_role("tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("exit at")
    expect(tooltip).to_contain_text("PnL")
    screenshot(page, "30-marker-tooltip")

    # A trade row zooms the price chart to that trade.
    page.get_by_role("tab", name="Trades").click()
    row = page.get_by_role("table", name="Trades").locator("tbody tr").nth(4)
    entry_text = row.locator("td").nth(2).inner_text()
    row.click()
    expect(page.get_by_role("tab", name="Price chart")).to_have_attribute("aria-selected", "true")
    page.wait_for_function(
        """() => {
          const api = document.querySelector('#candle-chart').chartApi;
          const range = api.timeScale().getVisibleRange();
          return range && (range.to - range.from) < 30 * 86400;
        }"""
    )
    shown = chart.evaluate("(el) => el.chartApi.timeScale().getVisibleRange()")
    entry_s = datetime.fromisoformat(entry_text.replace(" ", "T") + "+00:00").timestamp()
    assert shown["from"] <= entry_s <= shown["to"], (shown, entry_text)
    screenshot(page, "31-trade-zoom")
