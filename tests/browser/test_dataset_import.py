"""Dataset import from the page: check a file (the report, nothing stored), then store it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.ui import api_json, screenshot


def write_bars(path: Path, rows: int = 72) -> Path:
    """Hourly bars under German column names, with bars 20-22 missing (a gap)."""
    first = datetime(2024, 3, 1, tzinfo=UTC)
    lines = ["Zeit,Eroeffnung,Hoch,Tief,Schluss,Menge"]
    for hour in range(rows):
        if 20 <= hour <= 22:
            continue
        moment = (first + timedelta(hours=hour)).strftime("%Y-%m-%d %H:%M:%S")
        price = 200 + hour % 7
        lines.append(f"{moment},{price},{price + 3},{price - 2},{price + 1},12")
    path.write_text("\n".join(lines) + "\n")
    return path


def stored_names(server_url: str) -> list[str]:
    """The dataset names the server lists."""
    listed = api_json(server_url, "/api/datasets")
    assert isinstance(listed, list)
    return [str(entry["name"]) for entry in listed]


def test_a_file_is_checked_then_stored_and_selected(
    page: Page, server_url: str, tmp_path: Path
) -> None:
    bars = write_bars(tmp_path / "ui_bars.csv")
    page.get_by_role("button", name="Import data").click()
    dialog = page.get_by_role("dialog", name="Import data")
    expect(dialog).to_be_visible()
    dialog.get_by_label("File (CSV, Parquet or Binance zip)").set_input_files(str(bars))
    dialog.get_by_label("Symbol").fill("UIUSDT")
    dialog.get_by_role("button", name="Check").click()
    error = dialog.get_by_role("alert")
    expect(error).to_contain_text("missing the column(s) time")  # in words, naming the file
    expect(error).to_contain_text("ui_bars.csv")

    mapping = "Zeit=time, Eroeffnung=open, Hoch=high, Tief=low, Schluss=close, Menge=volume"
    dialog.get_by_label("Column mapping").fill(mapping)
    dialog.get_by_role("button", name="Check").click()
    expect(dialog.locator("#import-summary")).to_contain_text("0 fatal problem(s) and 1 warning")
    facts = dialog.locator("#import-facts")
    expect(facts).to_contain_text("UIUSDT/1h")
    expect(facts).to_contain_text("69")  # rows
    expect(facts).to_contain_text("Zeit → time")
    expect(dialog.get_by_role("table", name="Problems found")).to_contain_text("3")  # bars
    expect(error).to_be_hidden()
    screenshot(page, "43-dataset-import")
    names = stored_names(server_url)
    assert not any(name.startswith("UIUSDT/") for name in names)  # nothing stored yet

    dialog.get_by_role("button", name="Store").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_label("Dataset")).to_have_value("UIUSDT/1h@1")
    expect(page.locator("#notice")).to_contain_text("Stored UIUSDT/1h@1: 69 bars")
    expect(page.locator("#dataset-info")).to_contain_text("69 bars")


def test_cancel_discards_the_checked_file(page: Page, server_url: str, tmp_path: Path) -> None:
    bars = write_bars(tmp_path / "GONEUSDT-1h-2024-03.csv", rows=10)
    page.get_by_role("button", name="Import data").click()
    dialog = page.get_by_role("dialog", name="Import data")
    dialog.get_by_label("File (CSV, Parquet or Binance zip)").set_input_files(str(bars))
    dialog.get_by_label("Column mapping").fill(
        "Zeit=time,Eroeffnung=open,Hoch=high,Tief=low,Schluss=close,Menge=volume"
    )
    dialog.get_by_role("button", name="Check").click()
    expect(dialog.get_by_role("alert")).to_contain_text("where a Binance file has 12")
    dialog.get_by_label("Format").select_option("generic")  # a Binance name, not its columns
    dialog.get_by_role("button", name="Check").click()
    expect(dialog.locator("#import-facts")).to_contain_text("GONEUSDT/1h")  # from the name
    expect(dialog.get_by_role("button", name="Store")).to_be_enabled()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog.locator("#import-report")).to_be_hidden()
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    names = stored_names(server_url)
    assert not any(name.startswith("GONEUSDT/") for name in names)
