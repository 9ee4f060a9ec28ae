"""GET /api/examples carries the run options each example needs (a bad settings file is
ignored entry by entry); the same strategy file uploaded twice is stored once."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from app.api.routes.examples import example_settings

REPO_EXAMPLES = Path(__file__).resolve().parents[2] / "strategies_examples"


def test_the_shipped_examples_name_their_market_and_leverage(client: TestClient) -> None:
    examples = {e["name"]: e for e in client.get("/api/examples").json()}
    assert examples["rsi_mean_reversion"]["settings"] == {"mode": "spot"}
    assert examples["high_leverage_liquidation"]["settings"] == {
        "mode": "futures",
        "leverage_max": 100,
    }
    # Every shipped example says what it needs, and only names run options.
    assert set(example_settings(REPO_EXAMPLES)) == {p.stem for p in REPO_EXAMPLES.glob("*.py")}


def test_unknown_options_and_odd_values_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "run_settings.json").write_text(
        json.dumps(
            {
                "_about": "comment",
                "a": {"mode": "spot", "leverage_maxx": 5, "cash": True, "fee_taker": 0.001},
                "b": ["not", "a", "mapping"],
            }
        )
    )
    assert example_settings(tmp_path) == {"a": {"mode": "spot", "fee_taker": 0.001}}


def test_a_broken_or_missing_file_means_no_settings(tmp_path: Path) -> None:
    assert example_settings(tmp_path) == {}
    (tmp_path / "run_settings.json").write_text("{not json")
    assert example_settings(tmp_path) == {}


def test_the_same_file_uploaded_twice_is_one_strategy(client: TestClient) -> None:
    code = '"""Twice."""\n\n\nclass Twice(Strategy):\n    def on_data(self, bar):\n        pass\n'
    files = {"file": ("twice.py", code.encode(), "text/x-python")}
    first = client.post("/api/strategies/upload", files=files).json()
    second = client.post("/api/strategies/upload", files=files).json()
    assert second["id"] == first["id"]
    names = [s["name"] for s in client.get("/api/strategies").json()]
    assert names.count("twice") == 1
    changed = {"file": ("twice.py", code.replace("pass", "return").encode(), "text/x-python")}
    assert client.post("/api/strategies/upload", files=changed).json()["id"] != first["id"]
