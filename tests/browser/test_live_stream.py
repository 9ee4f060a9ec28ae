"""A live view that keeps up: a deliberately slow websocket reader beside the page on the
525,600-bar 1m sample is never dropped, sees 100 % and the outcome, while the page shows
bars/s and ETA without ever losing its connection."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect
from websockets.sync.client import connect
from websockets.typing import Origin

from tests.browser.ui import RUN_TIMEOUT_MS, choose_dataset, open_example, screenshot

# The reader stalls like a busy tab: it stops reading for PAUSE_S, then reads for READ_S, and
# again. While it stalls the stream piles up far more than the 512 messages that once had a
# viewer dropped (progress 5 a second, log lines in bursts of up to 100). A stall is longer
# than the 10 s uvicorn waits for a close reply: with the websocket keepalive on, a ping
# answered late after the server's last message drew a reset that took the outcome with it
# (tests/api/test_ws_keepalive.py shows both ways a keepalive dropped slow viewers).
PAUSE_S = 12.0
READ_S = 3.0
RECEIVE_BUFFER_BYTES = 4096  # a small TCP window, so the server's sends really wait
YEAR_RUN_TIMEOUT_MS = 600_000  # ~20 s alone; minutes on a loaded 2-core machine


class SlowReader(threading.Thread):
    """Reads one run's stream through a tiny socket buffer, stalling again and again."""

    def __init__(self, server_url: str, run_id: str) -> None:
        super().__init__(daemon=True)
        self.url = server_url.replace("http", "ws", 1) + f"/ws/runs/{run_id}"
        self.origin = server_url
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None
        self.failure: BaseException | None = None
        self.pauses = 0

    def run(self) -> None:
        parts = urlsplit(self.url)
        raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        raw.connect((parts.hostname or "127.0.0.1", parts.port or 80))
        try:
            with connect(
                self.url, sock=raw, origin=Origin(self.origin), max_queue=4, ping_interval=None
            ) as websocket:
                reading_since = time.monotonic()
                for text in websocket:
                    self.messages.append(json.loads(text))
                    if time.monotonic() - reading_since > READ_S:
                        time.sleep(PAUSE_S)
                        self.pauses += 1
                        reading_since = time.monotonic()
                self.close_code = websocket.close_code
        except BaseException as error:  # reported by the test
            self.failure = error


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_slow_viewer_is_never_dropped_and_sees_100_percent(page: Page, server_url: str) -> None:
    open_example(page, "sma_crossover")  # ~10,000 refused-order log lines on this dataset
    choose_dataset(page, "1m")
    page.evaluate(
        """() => {
          window.liveTexts = [];
          const stats = document.querySelector('#live-stats');
          new MutationObserver(() => window.liveTexts.push(stats.textContent))
            .observe(stats, {childList: true, characterData: true, subtree: true});
        }"""
    )
    with page.expect_response(
        lambda r: r.url.endswith("/api/runs") and r.request.method == "POST"
    ) as created:
        page.get_by_role("button", name="Run backtest").click()
    run_id = created.value.json()["id"]
    reader = SlowReader(server_url, run_id)
    reader.start()

    expect(page.locator("#live-stats")).to_contain_text("bars/s", timeout=RUN_TIMEOUT_MS)
    expect(page.locator("#live-stats")).to_contain_text("ETA")
    screenshot(page, "20-live-1m-running")
    progress = page.get_by_role("progressbar", name="Run progress")
    expect(progress).to_have_attribute("aria-valuenow", "100", timeout=YEAR_RUN_TIMEOUT_MS)
    expect(page.get_by_label("Run status")).to_have_text("done", timeout=RUN_TIMEOUT_MS)
    reader.join(timeout=120)
    assert not reader.is_alive(), "the slow reader's stream never ended"
    assert reader.failure is None, f"the slow reader failed: {reader.failure!r}"

    seen = reader.messages
    assert seen[-1]["type"] == "done", [m["type"] for m in seen[-5:]]
    last_progress = [m for m in seen if m["type"] == "progress"][-1]
    assert last_progress["pct"] == 100.0 and last_progress["bars_done"] == 525_600
    assert reader.close_code == 1000  # closed normally after the outcome, not dropped
    # Coalesced: the slow reader got the state, not every message the page got.
    points = [p for m in seen if m["type"] == "equity" for p in m["points"]]
    assert 2 <= len(points) <= 4 * 2000
    skipped = sum(m["lines"] for m in seen if m["type"] == "skipped")
    logged = sum(1 for m in seen if m["type"] == "log")
    print(
        f"slow reader: {reader.pauses} stalls of {PAUSE_S} s, {len(seen)} messages, "
        f"{logged} log lines, {skipped} lines skipped"
    )
    assert reader.pauses >= 1
    texts: list[str] = page.evaluate("window.liveTexts")
    assert not [t for t in texts if "Connection lost" in t], texts[-5:]
    # Before its bars the run said what it was doing (the sandbox, the data, the indicators).
    stages = ("Starting the sandbox", "Loading the data", "Computing indicators")
    assert [t for t in texts if t.startswith(stages)], texts[:10]
    screenshot(page, "21-live-1m-done")
