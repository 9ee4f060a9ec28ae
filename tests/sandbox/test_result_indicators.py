"""The indicators a worker says its strategy declared reach the parent only through the
engine's own checks of a name and its settings; anything else ends the run as a protocol
error (an honest worker sends only what its engine checked)."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine import IndicatorSetting, RunConfig, Strategy, simulate
from sandbox.codec import MAX_INDICATOR_SETTINGS, record_body, result_from_frame
from sandbox.errors import ProtocolError
from tests.conftest import build_market


class Declares(Strategy):
    def initialize(self) -> None:
        self.fast = self.indicator("sma", length=10)
        self.macd = self.indicator("macd", fast=5, slow=13)
        self.again = self.indicator("sma", length=10)  # the same setting: declared once
        self.daily = self.timeframe("4h").indicator("rsi", length=3)

    def on_data(self, bar: Any) -> None:
        pass


MARKET = build_market([100.0 + i % 9 for i in range(300)], freq="1h")


def test_the_declared_indicators_round_trip_in_declaration_order() -> None:
    config = RunConfig()
    body, arrays = record_body(simulate(Declares, MARKET, config))
    result = result_from_frame(body, arrays, MARKET, config)
    assert [(s.name, s.timeframe) for s in result.indicators] == [
        ("sma", None),
        ("macd", None),
        ("rsi", "4h"),
    ]
    assert result.indicators[0] == IndicatorSetting("sma", None, (("length", 10),))
    assert dict(result.indicators[1].settings)["fast"] == 5


@pytest.mark.parametrize(
    "forged",
    [
        "sma",
        [{"name": "sma"}],
        [{"name": "no_such_indicator", "timeframe": None, "settings": {}}],
        [{"name": "sma", "timeframe": None, "settings": {"length": -5}}],
        [{"name": "sma", "timeframe": None, "settings": {"length": "10; import os"}}],
        [{"name": "sma", "timeframe": 4, "settings": {}}],
        [{"name": "sma", "timeframe": "x" * 500, "settings": {}}],
        [{"name": "__class__", "timeframe": None, "settings": {}}],
        [{"name": "sma", "timeframe": None, "settings": {}}] * (MAX_INDICATOR_SETTINGS + 1),
    ],
)
def test_a_forged_indicator_list_is_a_protocol_error(forged: object) -> None:
    config = RunConfig()
    body, arrays = record_body(simulate(Declares, MARKET, config))
    with pytest.raises(ProtocolError, match="indicator"):
        result_from_frame({**body, "indicators": forged}, arrays, MARKET, config)
