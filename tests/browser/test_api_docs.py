"""/docs (Swagger UI) and /redoc render with every address but the server's own blocked:
their assets come from static/vendor, never from a CDN."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser.ui import screenshot


@pytest.fixture
def offline_context(
    chromium: Browser, server_url: str
) -> Iterator[tuple[BrowserContext, list[str]]]:
    """A browser context that can reach only the server under test; other requests are
    aborted and listed."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    blocked: list[str] = []

    def only_the_server(route: Route) -> None:
        url = route.request.url
        if url.startswith(server_url) or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", only_the_server)
    yield context, blocked
    context.close()


def open_page(context: BrowserContext, url: str) -> tuple[Page, list[str]]:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, timeout=60_000)
    return page, errors


def test_swagger_ui_renders_offline(
    offline_context: tuple[BrowserContext, list[str]], server_url: str
) -> None:
    context, blocked = offline_context
    page, errors = open_page(context, f"{server_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Strategy Lab", timeout=30_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/runs").first).to_be_visible()
    page.locator(".opblock-summary-path", has_text="/api/health").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    screenshot(page, "25-swagger-offline")
    assert blocked == [] and errors == []


def test_redoc_renders_offline(
    offline_context: tuple[BrowserContext, list[str]], server_url: str
) -> None:
    context, blocked = offline_context
    page, errors = open_page(context, f"{server_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("Strategy Lab", timeout=30_000)
    expect(page.get_by_role("textbox", name="Search")).to_be_visible()
    expect(page.locator(".menu-content")).to_contain_text("health", ignore_case=True)
    screenshot(page, "26-redoc-offline")
    assert blocked == [] and errors == []
