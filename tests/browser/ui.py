"""What the browser tests do on the page, named for the user's actions."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page, Response, expect

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
RUN_TIMEOUT_MS = 120_000
SCREENSHOT_TIMEOUT_MS = 60_000


class PageProblems:
    """JavaScript errors and 5xx answers seen by a page; tests fail on any of them.

    Chromium logs every non-2xx fetch as a console error; expected refusals (a 404 for an
    optional resource, a 422 for bad input) are the page's business, so only 5xx count.
    """

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self.on_console)
        page.on("pageerror", self.on_page_error)
        page.on("response", self.on_response)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(f"console: {message.text}")

    def on_page_error(self, error: Exception) -> None:
        self.errors.append(f"page error: {error}")

    def on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.errors.append(f"HTTP {response.status} from {response.url}")


def screenshot(page: Page, name: str) -> Path:
    """Saves a full-page screenshot as tests/browser/artifacts/<name>.png (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # A page busy drawing a live 525,600-bar run can take longer than the default 15 s to paint
    # a full-page capture on a loaded 2-core machine; the capture is evidence, not the test.
    page.screenshot(path=str(path), full_page=True, timeout=SCREENSHOT_TIMEOUT_MS)
    return path


def open_example(page: Page, name: str) -> None:
    """Opens example `name` (its file stem, e.g. "sma_crossover") in the editor."""
    page.get_by_label("Open strategy").select_option(f"example:{name}")
    expect(page.locator("#notice")).to_contain_text(f"Opened example {name}")


def choose_dataset(page: Page, timeframe: str) -> str:
    """Picks the first dataset whose name mentions `timeframe` (e.g. "1h"); returns its name."""
    select = page.get_by_label("Dataset")
    names: list[str] = select.locator("option").evaluate_all(
        "(options) => options.map((o) => o.value)"
    )
    matching = [n for n in names if re.search(rf"(?<![0-9a-z]){re.escape(timeframe)}\b", n)]
    assert matching, f"no {timeframe} dataset among {names}"
    select.select_option(matching[0])
    return matching[0]


def set_period(page: Page, start: str, end: str) -> None:
    """Sets the run's period with ISO dates (UTC), e.g. "2023-02-01"."""
    page.get_by_label("Start (UTC)").fill(start)
    page.get_by_label("End (UTC)").fill(end)


def upload_file(page: Page, path: Path) -> None:
    """Uploads a strategy file through the "Upload .py" button's file chooser."""
    with page.expect_file_chooser() as chooser:
        page.get_by_text("Upload .py").click()
    chooser.value.set_files(str(path))
    expect(page.locator("#notice")).to_contain_text(f"Uploaded “{path.name}”")


def editor_text(page: Page) -> str:
    """The editor's visible lines (Monaco renders only what is on screen)."""
    return page.locator("#editor .view-lines").inner_text().replace("\u00a0", " ")


def active_line(page: Page) -> int:
    """The line number the editor's cursor is on."""
    return int(page.locator("#editor .line-numbers.active-line-number").inner_text())


def wait_for_results(page: Page) -> None:
    """Waits until a run's results are on the page (metrics filled in)."""
    expect(page.locator("#results")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#metrics-table tbody tr").first).to_be_visible()


def api_json(server_url: str, path: str) -> object:
    """GET `path` from the server as JSON (for checks beside the page)."""
    with urllib.request.urlopen(f"{server_url}{path}", timeout=10) as response:
        return json.loads(response.read())
