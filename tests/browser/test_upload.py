"""Strategy files into the editor: upload by button or drag-and-drop, save with versions."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.ui import api_json, editor_text, screenshot, upload_file

UPLOADED = '''"""Uploaded in a browser test."""


class Uploaded(Strategy):
    params = {"length": 12}

    def initialize(self):
        self.ma = self.indicator("ema", length=self.params["length"])

    def on_data(self, bar):
        pass
'''


def test_upload_by_the_file_chooser(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "chooser_upload.py"
    path.write_text(UPLOADED)
    upload_file(page, path)
    assert "class Uploaded(Strategy):" in editor_text(page)
    expect(page.get_by_label("length", exact=True)).to_have_value("12")
    expect(page.locator("#strategy-version")).to_contain_text("saved as #")
    saved = page.get_by_label("Open strategy").locator('optgroup[label="Saved strategies"]')
    expect(saved).to_contain_text("chooser_upload")


def test_upload_by_drag_and_drop(page: Page) -> None:
    drop_zone = page.locator("#editor-drop")
    transfer = page.evaluate_handle(
        """(code) => {
            const transfer = new DataTransfer();
            transfer.items.add(new File([code], "dropped_strategy.py", { type: "text/x-python" }));
            return transfer;
        }""",
        UPLOADED.replace("Uploaded", "Dropped"),
    )
    drop_zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    expect(drop_zone).to_have_class("editor-drop dragging")
    drop_zone.dispatch_event("dragover", {"dataTransfer": transfer})
    drop_zone.dispatch_event("drop", {"dataTransfer": transfer})
    expect(page.locator("#notice")).to_contain_text("Uploaded “dropped_strategy.py”")
    assert "class Dropped(Strategy):" in editor_text(page)
    expect(drop_zone).to_have_class("editor-drop")
    screenshot(page, "10-dropped-upload")


def test_a_file_that_is_not_python_is_refused_with_a_reason(page: Page, tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a strategy")
    with page.expect_file_chooser() as chooser:
        page.get_by_text("Upload .py").click()
    chooser.value.set_files(str(path))
    expect(page.locator("#notice-error")).to_contain_text("isn't a .py file")


def test_save_keeps_every_version(page: Page, server_url: str, tmp_path: Path) -> None:
    path = tmp_path / "versioned.py"
    path.write_text(UPLOADED)
    upload_file(page, path)
    version = page.locator("#strategy-version")
    expect(version).to_contain_text("version 1")

    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# second version")
    expect(version).to_contain_text("(modified)")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(version).to_have_text(re.compile(r"version 2$"))

    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n# third version")
    page.keyboard.press("Control+s")
    expect(version).to_have_text(re.compile(r"version 3$"))
    strategy_id = version.inner_text().split("#")[1].split(",")[0]
    record = api_json(server_url, f"/api/strategies/{strategy_id}")
    assert isinstance(record, dict)
    assert "# third version" in record["code"]


def test_an_older_version_opens_and_a_strategy_can_be_deleted(
    page: Page, tmp_path: Path, server_url: str
) -> None:
    path = tmp_path / "versioned_upload.py"
    path.write_text(UPLOADED)
    upload_file(page, path)
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("# VERSIONTWO\n")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#notice")).to_contain_text("as version 2")

    versions = page.get_by_label("Version", exact=True)
    expect(versions).to_be_visible()
    versions.select_option("1")
    expect(page.locator("#editor .view-lines")).not_to_contain_text("VERSIONTWO")
    assert "class Uploaded(Strategy):" in editor_text(page)
    versions.select_option("2")
    expect(page.locator("#editor .view-lines")).to_contain_text("VERSIONTWO")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("#notice")).to_contain_text("Deleted the saved strategy")
    saved = api_json(server_url, "/api/strategies")
    assert isinstance(saved, list)
    assert "versioned_upload" not in [s["name"] for s in saved]
    picker = page.get_by_label("Open strategy").locator('optgroup[label="Saved strategies"] option')
    expect(picker.filter(has_text="versioned_upload")).to_have_count(0)
