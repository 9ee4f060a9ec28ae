"""A server that requires an access token: opening the printed link sets an HttpOnly cookie and
lands on a clean address; the page never holds the token, in storage or in any URL."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.server import running_server
from tests.browser.ui import RUN_TIMEOUT_MS, PageProblems, choose_dataset, open_example

TOKEN = "browser-test-token-0123456789"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("STRATEGYLAB_UI_TEST_URL")),
    reason="starts its own server with a token; not run against an external server",
)


@pytest.fixture(scope="module")
def token_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("token-server"), access_token=TOKEN) as url:
        yield url


@pytest.fixture
def fresh_page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def test_the_page_keeps_the_token_and_uses_it(fresh_page: Page, token_server_url: str) -> None:
    problems = PageProblems(fresh_page)
    requested: list[str] = []
    fresh_page.on("request", lambda request: requested.append(request.url))
    fresh_page.goto(f"{token_server_url}/?token={TOKEN}")
    fresh_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    assert "token" not in fresh_page.url
    expect(fresh_page.get_by_label("Server status")).to_contain_text("server ok")
    examples = fresh_page.get_by_label("Open strategy").locator('optgroup[label="Examples"] option')
    expect(examples).not_to_have_count(0)
    fresh_page.reload()
    fresh_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    expect(examples).not_to_have_count(0)
    assert not problems.errors
    assert [url for url in requested if TOKEN in url] == [f"{token_server_url}/?token={TOKEN}"]


def test_cant_read_the_token_from_the_page(fresh_page: Page, token_server_url: str) -> None:
    fresh_page.goto(f"{token_server_url}/?token={TOKEN}")
    fresh_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    held = fresh_page.evaluate(
        """() => [document.cookie, location.href, document.referrer,
                  JSON.stringify({...sessionStorage}), JSON.stringify({...localStorage})]"""
    )
    assert not [place for place in held if TOKEN in place], held
    cookies = fresh_page.context.cookies()
    token_cookie = next(c for c in cookies if c["name"] == "strategylab_token")
    assert token_cookie["httpOnly"] and token_cookie["sameSite"] == "Lax"


def test_the_live_view_websocket_carries_the_cookie_not_the_token(
    fresh_page: Page, token_server_url: str
) -> None:
    sockets: list[str] = []
    fresh_page.on("websocket", lambda socket: sockets.append(socket.url))
    fresh_page.goto(f"{token_server_url}/?token={TOKEN}")
    fresh_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    problems = PageProblems(fresh_page)
    open_example(fresh_page, "sma_crossover")
    choose_dataset(fresh_page, "1h")
    fresh_page.get_by_role("button", name="Run backtest").click()
    expect(fresh_page.get_by_label("Run status")).to_have_text("done", timeout=RUN_TIMEOUT_MS)
    assert sockets and not [url for url in sockets if "token" in url], sockets
    assert not problems.errors


def test_without_the_token_the_server_refuses_the_page(
    fresh_page: Page, token_server_url: str
) -> None:
    response = fresh_page.goto(f"{token_server_url}/")
    assert response is not None
    assert response.status == 401
    expect(fresh_page.locator("body")).to_contain_text("access token")
