"""A trader reads a run: the strategy's indicators drawn on the price chart (overlays on the
candles, oscillators in panes below, each toggled by its checkbox), the trades table with
leverage, margin and return on margin coloured by sign, and the live view saying which
indicator it is computing before the bars start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_runs import run_button
from tests.browser.ui import (
    api_json,
    choose_dataset,
    screenshot,
    set_period,
    upload_file,
    wait_for_results,
)
from tests.jobs.fixtures import SEVERAL_INDICATORS_CODE

LABELS = [
    "SMA(length=10)",
    "EMA(length=30)",
    "RSI(length=14) (pane)",
    "BBANDS(length=20) (pane)",  # its width and %B columns; the bands are on the candles
    "SMA(length=5) @4h",
]


def strategy_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text(SEVERAL_INDICATORS_CODE, encoding="utf-8")
    return path


def chart_shape(page: Page) -> dict[str, int]:
    shape: dict[str, int] = page.locator("#candle-chart").evaluate(
        """(el) => ({
          panes: el.chartApi.panes().length,
          series: el.chartApi.panes().reduce((n, p) => n + p.getSeries().length, 0),
        })"""
    )
    return shape


def test_indicators_on_the_price_chart_and_margins_in_the_trades_table(
    page: Page, server_url: str, tmp_path: Path
) -> None:
    upload_file(page, strategy_file(tmp_path, "several_indicators.py"))
    choose_dataset(page, "1h")
    run_button(page)
    wait_for_results(page)
    run_id = parse_qs(urlsplit(page.url).query)["run"][0]

    # Trades: leverage, margin, return on margin; PnL and returns green up, red down.
    page.get_by_role("tab", name="Trades").click()
    table = page.get_by_role("table", name="Trades")
    trades = api_json(server_url, f"/api/runs/{run_id}/trades")
    assert isinstance(trades, list) and len(trades) > 4
    expect(table.locator("tbody tr")).to_have_count(len(trades))
    # The headers and the rows read in one step: the table as it stands at one moment (read
    # apart, a re-render between the two reads could shift the columns under the test).
    shown: dict[str, list[Any]] = table.evaluate(
        """(t) => ({
          headers: [...t.querySelectorAll("thead th")].map((h) => h.innerText),
          rows: [...t.querySelectorAll("tbody tr")].map((r) =>
            [...r.querySelectorAll("td")].map((c) => [c.innerText, c.className])),
        })"""
    )
    headers = shown["headers"]
    assert {"Leverage", "Margin", "PnL", "Return on margin %"} <= set(headers)
    column = {name: i for i, name in enumerate(headers)}
    for k in (0, 1, len(trades) - 1):
        cells = shown["rows"][k]
        trade = trades[k]
        assert cells[column["Leverage"]][0] == "4x"
        rom_text, rom_class = cells[column["Return on margin %"]]
        assert float(rom_text.replace(",", "")) == pytest.approx(
            trade["return_on_margin"] * 100, abs=0.006
        )
        tone = "gain" if trade["pnl"] > 0 else "loss"
        assert re.search(rf"\b{tone}\b", cells[column["PnL"]][1])
        assert re.search(rf"\b{tone}\b", rom_class)
    screenshot(page, "40-trades-margins")

    # The price chart: a checkbox per self.indicator, all drawn at first.
    page.get_by_role("tab", name="Price chart").click()
    toggles = page.locator("#indicator-toggles label")
    expect(toggles).to_have_count(len(LABELS))
    assert toggles.all_inner_texts() == LABELS
    expect(page.locator("#candle-chart canvas").first).to_be_visible()
    # candles + SMA, EMA, RSI, the five bbands columns and the 4h SMA; RSI and the bands'
    # width/%B get a pane each below the candles
    assert chart_shape(page) == {"panes": 3, "series": 1 + 1 + 1 + 1 + 5 + 1}
    body = api_json(server_url, f"/api/runs/{run_id}/indicators")
    assert isinstance(body, dict)
    sma = body["indicators"][0]
    drawn = page.locator("#candle-chart").evaluate(
        """(el) => {
          const series = el.chartApi.panes()[0].getSeries()
            .find((s) => s.options().title === 'SMA_10');
          const data = series.data().filter((p) => p.value !== undefined);
          return [data.length, data[data.length - 1].time, data[data.length - 1].value];
        }"""
    )
    values = sma["lines"][0]["values"]
    assert drawn == [sum(v is not None for v in values), sma["time"][-1], values[-1]]
    screenshot(page, "41-indicators-on-chart")

    # Unticking an oscillator closes its pane; unticking an overlay removes its line.
    page.get_by_label("RSI(length=14) (pane)").uncheck()
    assert chart_shape(page) == {"panes": 2, "series": 1 + 1 + 1 + 5 + 1}
    page.get_by_label("BBANDS(length=20) (pane)").uncheck()
    page.get_by_label("SMA(length=10)").uncheck()
    assert chart_shape(page) == {"panes": 1, "series": 1 + 1 + 1}
    page.get_by_label("RSI(length=14) (pane)").check()
    assert chart_shape(page) == {"panes": 2, "series": 1 + 1 + 1 + 1}
    screenshot(page, "42-indicator-toggled")


@pytest.mark.slow
def test_the_live_view_counts_the_indicators_it_computes(page: Page, tmp_path: Path) -> None:
    # The 525,600-bar minute sample, traded for its last days only: the indicators are computed
    # over every bar (the earlier ones warm them up), long enough for the stage to be seen.
    upload_file(page, strategy_file(tmp_path, "several_on_minutes.py"))
    choose_dataset(page, "1m")
    set_period(page, "2023-12-29", "2023-12-31")
    page.evaluate(
        """() => {
          window.seenStages = [];
          const stats = document.querySelector('#live-stats');
          new MutationObserver(() => window.seenStages.push(stats.textContent))
            .observe(stats, {childList: true, characterData: true, subtree: true});
        }"""
    )
    run_button(page)
    wait_for_results(page)
    seen: list[str] = page.evaluate("() => window.seenStages")
    counted = [text for text in seen if re.search(r"Computing indicators \d / 5…", text)]
    assert counted, seen[:20]
    assert any(text.startswith("Starting the sandbox") for text in seen) or any(
        text.startswith("Loading the data") for text in seen
    ), seen[:20]
