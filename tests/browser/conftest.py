"""Browser tests: the real app served on a free 127.0.0.1 port, driven by Debian's Chromium.

The server runs `app.main:create_app(settings)` under uvicorn in a subprocess with its own
temporary data and runs folders (the bundled samples copied in), so every test session starts
from an empty database. Set STRATEGYLAB_UI_TEST_URL to test an already running server instead.
Chromium comes from `scripts/install-browser`; Playwright's own browser download isn't used.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, ViewportSize, sync_playwright

from tests.browser.server import running_server
from tests.browser.ui import PageProblems

CHROMIUM = Path(os.environ.get("STRATEGYLAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWPORT: ViewportSize = {"width": 1400, "height": 1000}


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a Strategy Lab server with a fresh data folder."""
    external = os.environ.get("STRATEGYLAB_UI_TEST_URL")
    if external:
        yield external.rstrip("/")
        return
    with running_server(tmp_path_factory.mktemp("server")) as url:
        yield url


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright_driver: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/install-browser")
    browser = playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


@pytest.fixture
def page(chromium: Browser, server_url: str) -> Iterator[Page]:
    """The app's page, opened and ready (editor, examples and datasets loaded).

    The test fails afterwards if the page threw a JavaScript error or the server answered 5xx.
    """
    context = chromium.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    problems = PageProblems(tab)
    tab.goto(f"{server_url}/", timeout=60_000)  # a loaded CI machine can be slow to serve
    tab.wait_for_selector("body[data-ready=true]", timeout=30_000)
    yield tab
    context.close()
    assert not problems.errors, "the page had problems:\n" + "\n".join(problems.errors)
