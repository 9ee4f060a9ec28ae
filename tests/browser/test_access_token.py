"""A server that requires an access token: the page keeps the token from `?token=` and sends it."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.server import running_server
from tests.browser.ui import PageProblems

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


def test_without_the_token_the_server_refuses_the_page(
    fresh_page: Page, token_server_url: str
) -> None:
    response = fresh_page.goto(f"{token_server_url}/")
    assert response is not None
    assert response.status == 401
    expect(fresh_page.locator("body")).to_contain_text("access token")
