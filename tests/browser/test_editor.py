"""The editor: examples open, validation squiggles while typing, completion and hover docs."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.ui import active_line, editor_text, open_example, screenshot


def test_page_opens_with_examples_and_datasets(page: Page) -> None:
    expect(page.get_by_role("heading", name="Strategy Lab")).to_be_visible()
    expect(page.get_by_label("Server status")).to_contain_text("server ok")
    examples = page.get_by_label("Open strategy").locator('optgroup[label="Examples"] option')
    expect(examples).not_to_have_count(0)
    expect(page.get_by_label("Dataset").locator("option").first).not_to_have_text(
        "No datasets: import one first"
    )
    screenshot(page, "01-page-opened")


def test_an_example_fills_the_editor_and_its_params(page: Page) -> None:
    open_example(page, "sma_crossover")
    assert "class SmaCross(Strategy):" in editor_text(page)
    expect(page.get_by_label("fast", exact=True)).to_have_value("10")
    expect(page.get_by_label("slow", exact=True)).to_have_value("30")
    expect(page.locator("#problems-summary")).to_have_text("No problems found")


def test_a_bad_import_gets_a_squiggle_with_its_message(page: Page) -> None:
    open_example(page, "sma_crossover")
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("import os\n")

    squiggle = page.locator("#editor .squiggly-error").first
    expect(squiggle).to_be_visible()
    problems = page.get_by_role("list", name="Problems")
    expect(problems).to_contain_text("Line 1:1")
    expect(problems).to_contain_text("'os'")

    box = squiggle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page.locator(".monaco-hover").first).to_contain_text("'os' is not allowed")
    screenshot(page, "02-bad-import-squiggle")

    page.keyboard.press("Control+End")
    problems.get_by_role("button").first.click()
    assert active_line(page) == 1


def test_fixing_the_code_clears_the_squiggle(page: Page) -> None:
    open_example(page, "sma_crossover")
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("import os\n")
    expect(page.locator("#editor .squiggly-error").first).to_be_visible()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+ArrowDown")
    page.keyboard.press("Delete")
    expect(page.locator("#problems-summary")).to_have_text("No problems found")
    expect(page.locator("#editor .squiggly-error")).to_have_count(0)


def test_completion_offers_indicators_and_their_settings(page: Page) -> None:
    open_example(page, "sma_crossover")
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type('\n        self.m = self.indicator("mac')
    suggestions = page.locator("#editor .suggest-widget")
    expect(suggestions).to_contain_text("macd")
    expect(suggestions).to_contain_text("Moving Average Convergence Divergence")
    screenshot(page, "03-indicator-completion")
    # Under load the list can still be filling when it first shows: accept only once the
    # highlighted row is macd.
    expect(suggestions.locator(".monaco-list-row.focused")).to_contain_text("macd")
    page.keyboard.press("Enter")
    expect(page.locator("#editor .view-lines")).to_contain_text('self.indicator("macd')
    # Monaco closes `("` by itself only when it keeps up with the typing: write the call's
    # line as a user would have it, with the cursor where the settings go.
    page.evaluate(
        """() => {
            const editor = monaco.editor.getEditors()[0];
            const model = editor.getModel();
            const line = model.getLineCount();
            const text = '        self.m = self.indicator("macd", )';
            const range = new monaco.Range(line, 1, line, model.getLineMaxColumn(line));
            editor.executeEdits("test", [{ range, text }]);
            editor.setPosition({ lineNumber: line, column: text.length });
            editor.focus();
        }"""
    )
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Space")
    expect(suggestions).to_contain_text("fast=")
    expect(suggestions).to_contain_text("signal=")


def test_completion_offers_the_strategy_api(page: Page) -> None:
    open_example(page, "sma_crossover")
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\n        self.get_")
    suggestions = page.locator("#editor .suggest-widget")
    for name in ("get_cash", "get_equity", "get_margin_ratio", "get_position_size"):
        expect(suggestions).to_contain_text(name)


def test_completion_offers_the_strategys_own_params(page: Page) -> None:
    open_example(page, "sma_crossover")
    page.locator("#editor .view-lines").click()
    page.keyboard.press("Control+End")
    page.keyboard.type('\n        n = self.params["')
    suggestions = page.locator("#editor .suggest-widget")
    for name in ("fast", "slow", "amount", "short_leverage"):
        expect(suggestions).to_contain_text(name)


def test_hover_documents_the_strategy_api_and_indicators(page: Page) -> None:
    open_example(page, "sma_crossover")
    hover = page.locator(".monaco-hover").first

    buy_line = page.locator("#editor .view-line", has_text="self.buy(")
    buy_line.locator("span > span", has_text="buy").last.hover()
    expect(hover).to_contain_text("base units")

    page.mouse.move(0, 0)
    indicator = page.locator("#editor .view-line", has_text='indicator("sma"').first
    indicator.locator("span > span", has_text='"sma"').first.hover()
    expect(hover).to_contain_text("Simple Moving Average")


def test_the_editor_shortcuts_are_listed_in_a_help_popover(page: Page) -> None:
    help_box = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(help_box).to_be_hidden()
    page.get_by_role("button", name="Keyboard shortcuts").click()
    expect(help_box).to_be_visible()
    for keys in ("S", "Enter", "Space", "F8"):
        expect(help_box.locator("kbd", has_text=keys).first).to_be_visible()
    expect(help_box).to_contain_text("Run the backtest")
    screenshot(page, "32-shortcuts")
    page.keyboard.press("Escape")
    expect(help_box).to_be_hidden()
