"""A ConfigError raised inside the worker reaches the parent with its field, as data."""

from __future__ import annotations

import pytest

from app.engine import ConfigError, MarketData, RunConfig
from sandbox import run_sandboxed
from sandbox.supervisor import config_error
from sandbox.worker import error_body
from tests.conftest import build_market

WATCHER = """
class Watcher(Strategy):
    def on_data(self, bar):
        pass
"""


@pytest.mark.parametrize(
    ("field", "shift_ns", "message"),
    [
        ("start", 1, "the period starts after the last bar of the data"),
        ("end", -1, "the period ends before the first bar of the data"),
    ],
)
def test_a_config_error_in_the_worker_keeps_its_field_in_the_parent(
    field: str, shift_ns: int, message: str
) -> None:
    market: MarketData = build_market([100.0] * 5)
    edge = int(market.time[-1]) if field == "start" else int(market.time[0])
    with pytest.raises(ConfigError) as caught:
        run_sandboxed(WATCHER, market, RunConfig(**{field: edge + shift_ns}))  # type: ignore[arg-type]
    assert (caught.value.field, caught.value.message) == (field, message)
    assert str(caught.value) == f"{field}: {message}"


def test_the_worker_sends_the_field_beside_the_bare_message() -> None:
    body = error_body(ConfigError("leverage_max", "must be between 1 and 125"), "s.py")
    assert (body["field"], body["message"]) == ("leverage_max", "must be between 1 and 125")


@pytest.mark.parametrize("field", ["__class__", "not_a_field", 3, None, "x" * 10_000])
def test_the_parent_trusts_only_a_run_config_field_name(field: object) -> None:
    error = config_error(field, "bad value")
    assert (error.field, error.message) == ("config", "bad value")


def test_the_parent_keeps_a_known_field() -> None:
    assert config_error("fee_taker", "too high").field == "fee_taker"
