"""The HTML report opened from disk (file://) in Chromium with the network off: no request
leaves the file, no script runs, and every chart is drawn (a non-empty SVG with its paths)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect
from typer.testing import CliRunner

from app.cli import cli_app
from tests.browser.ui import RUN_TIMEOUT_MS, choose_dataset, open_example, wait_for_results
from tests.research.report_support import HOSTILE, make_run

INPUTS = Path(__file__).resolve().parents[1] / "research" / "report_inputs"
RUN_CHARTS = (
    "equity",
    "underwater",
    "monthly",
    "rolling_sharpe",
    "rolling_volatility",
    "daily_returns",
    "trade_returns",
)


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile run's HTML report with a sweep and a Monte Carlo section."""
    from app.research.montecarlo import MonteCarloSpec
    from app.research.montecarlo_document import run_montecarlo, write_montecarlo

    folder = tmp_path_factory.mktemp("report-file")
    run_dir, data = make_run(folder)
    spec = MonteCarloSpec(method="bootstrap", simulations=200, seed=5)
    write_montecarlo(run_montecarlo(run_dir, spec), run_dir)  # found beside the run
    out = folder / "report.html"
    result = CliRunner().invoke(
        cli_app,
        ["report", str(run_dir), "--data", str(data), "--sweep", str(INPUTS / "sweep"),
         "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture
def offline_page(chromium: Browser) -> Iterator[tuple[Page, list[str], list[str]]]:
    """A page whose every non-file request is aborted and recorded, with JS errors and
    console messages recorded too."""
    context = chromium.new_context(offline=True, java_script_enabled=True)
    attempted: list[str] = []
    problems: list[str] = []

    def refuse(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    page.on(
        "request",
        lambda request: (
            None if request.url.startswith("file://") else attempted.append(request.url)
        ),
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text))
    yield page, attempted, problems
    context.close()


def test_report_opens_offline_and_draws_every_chart(
    report_file: Path, offline_page: tuple[Page, list[str], list[str]]
) -> None:
    page, attempted, problems = offline_page
    page.goto(report_file.as_uri())
    page.wait_for_load_state("load")
    assert attempted == [], f"the report tried the network: {attempted}"
    assert problems == [], problems
    charts: dict[str, dict[str, float]] = page.eval_on_selector_all(
        "svg.chart",
        """(charts) => Object.fromEntries(charts.map((svg) => {
            const box = svg.getBoundingClientRect();
            const shapes = [...svg.querySelectorAll("path.series, path.band, path.cell, rect.bin")];
            const drawn = shapes.filter((s) => (s.getAttribute("d") || "x").length > 1
                && s.getBBox().width > 0);
            return [svg.dataset.chart, {width: box.width, height: box.height,
                                        shapes: drawn.length,
                                        empty: svg.querySelectorAll("text.empty").length}];
        }))""",
    )
    expected = {*RUN_CHARTS, "sweep_0_histogram", "montecarlo_1_histogram", "montecarlo_1_fan"}
    assert set(charts) == expected
    for name, chart in charts.items():
        assert chart["width"] > 300 and chart["height"] > 60, name
        assert chart["shapes"] >= 1 and chart["empty"] == 0, (name, chart)
    series = page.eval_on_selector_all(
        'svg[data-chart="equity"] path.series', "(paths) => paths.map((p) => p.dataset.series)"
    )
    assert series == ["equity", "buy and hold"]
    assert page.locator("script").count() == 0
    assert HOSTILE in page.locator("#log pre").inner_text()  # shown as text, never run
    title = page.title()
    assert title.startswith("Report: HostileCross(")


def test_report_lists_the_metrics_of_metrics_json(report_file: Path, chromium: Browser) -> None:
    context = chromium.new_context(offline=True)
    page = context.new_page()
    page.goto(report_file.as_uri())
    run_dir = report_file.parent / "run"
    figures = json.loads((run_dir / "metrics.json").read_text())["metrics"]
    rows = page.locator("table.metrics tr[data-metric]")
    assert rows.count() == len(figures)
    trades = page.locator('tr[data-metric="trades"] td.num').inner_text()
    assert trades == f"{figures['trades']:,}"
    context.close()


@pytest.mark.slow
def test_a_finished_run_has_a_report_button(page: Page, server_url: str) -> None:
    open_example(page, "sma_crossover")
    choose_dataset(page, "1h")
    page.get_by_role("button", name="Run backtest").click()
    wait_for_results(page)
    expect(page.get_by_label("Run status")).to_have_text("done", timeout=RUN_TIMEOUT_MS)
    button = page.get_by_role("link", name="Report")
    expect(button).to_be_visible()
    href = button.get_attribute("href") or ""
    assert re.fullmatch(r"/api/runs/[0-9a-zA-Z_-]+/report", href), href
    answer = page.request.get(server_url + href)
    assert answer.ok and answer.headers["content-type"].startswith("text/html")
    assert answer.text().count("<svg") == 7 and "<script" not in answer.text()
