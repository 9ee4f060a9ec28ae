"""A server that requires accounts, in a real browser: the page sends an unsigned visitor to
the sign-in form, signing in lands on the page asked for with a session its scripts cannot
read, state changes carry the CSRF token, and signing out ends the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from app.auth.users import create_user
from app.db import make_engine, migrate, session_scope
from tests.browser.server import running_server
from tests.browser.ui import PageProblems

PASSWORD = "browser password 1"

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("STRATEGYLAB_UI_TEST_URL")),
    reason="starts its own server with accounts; not run against an external server",
)


@pytest.fixture(scope="module")
def accounts_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("accounts-server")
    (root / "data").mkdir()
    engine = make_engine(f"sqlite:///{root / 'data' / 'strategylab.db'}")
    migrate(engine)
    with session_scope(engine) as session:
        create_user(session, username="alice", password=PASSWORD)
    engine.dispose()
    with running_server(Path(root), accounts="on") as url:
        yield url


@pytest.fixture
def fresh_page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context()
    yield context.new_page()
    context.close()


def test_sign_in_work_and_sign_out(fresh_page: Page, accounts_url: str) -> None:
    problems = PageProblems(fresh_page)
    fresh_page.goto(f"{accounts_url}/sweeps")
    expect(fresh_page).to_have_url(f"{accounts_url}/login?next=%2Fsweeps")
    fresh_page.get_by_label("User name").fill("alice")
    fresh_page.get_by_label("Password").fill("wrong password")
    fresh_page.get_by_role("button", name="Sign in").click()
    expect(fresh_page.locator("#login-error")).to_contain_text("user name or the password is wrong")
    fresh_page.get_by_label("User name").fill("alice")
    fresh_page.get_by_label("Password").fill(PASSWORD)
    fresh_page.get_by_role("button", name="Sign in").click()
    expect(fresh_page).to_have_url(f"{accounts_url}/sweeps")
    fresh_page.goto(f"{accounts_url}/")
    fresh_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    expect(fresh_page.locator("#account-name")).to_have_text("alice")
    assert "strategylab_session" not in fresh_page.evaluate("document.cookie")  # HttpOnly
    saved = fresh_page.evaluate(
        """async () => {
            const {api} = await import("/static/js/api.js");
            return (await api.createStrategy({name: "mine", code: "x = 1"})).name;
        }"""
    )
    assert saved == "mine"  # a POST: it carried the session's CSRF token
    fresh_page.get_by_role("button", name="Sign out").click()
    expect(fresh_page).to_have_url(f"{accounts_url}/login")
    fresh_page.goto(f"{accounts_url}/")
    expect(fresh_page).to_have_url(f"{accounts_url}/login")
    assert not [e for e in problems.errors if "401" not in e and "403" not in e]


def test_a_request_that_fails_after_signing_out_does_not_race_the_page_to_sign_in(
    fresh_page: Page, accounts_url: str
) -> None:
    """Once the user signs out, the sign-out control alone sends the browser to /login: a
    request still in flight that comes back 401 must not send it to /login?next=... (under
    load that navigation could land after the control's and win)."""
    fresh_page.goto(f"{accounts_url}/login")
    fresh_page.get_by_label("User name").fill("alice")
    fresh_page.get_by_label("Password").fill(PASSWORD)
    fresh_page.get_by_role("button", name="Sign in").click()
    expect(fresh_page).to_have_url(f"{accounts_url}/")
    fresh_page.wait_for_selector("body[data-ready=true]", timeout=30_000)
    status = fresh_page.evaluate(
        """async () => {
            const {api} = await import("/static/js/api.js");
            await api.signOut();
            try {
                await api.me();  // the session is gone: 401
                return "no 401";
            } catch (error) {
                return String(error.status);
            }
        }"""
    )
    assert status == "401"
    fresh_page.wait_for_timeout(500)  # a navigation the 401 started would have begun by now
    assert urlsplit(fresh_page.url).path == "/", fresh_page.url  # still the editor, not /login
