"""Strategy code reaches only the public API: every object it can reach is walked, and every
name on it that is not on the allow-list is refused by the guard."""

from __future__ import annotations

import textwrap

import pytest

from app.engine import (
    Bar,
    MarketData,
    RunConfig,
    Strategy,
    StrategyRuntimeError,
    run_backtest,
)
from sandbox import SandboxViolation
from sandbox.api_surface import ENGINE_API, STRATEGY_API
from sandbox.compile import compile_strategy
from sandbox.guards import make_getattr


def reachable_objects(market: MarketData) -> dict[str, object]:
    """One of each engine object a strategy can hold, taken from inside a real run."""
    found: dict[str, object] = {}

    class Collector(Strategy):
        def initialize(self) -> None:
            found["frame"] = self.indicator("macd")
            found["timeframe"] = self.timeframe("4h")

        def on_data(self, bar: Bar) -> None:
            if bar.index == 50:
                found.update(
                    strategy=self,
                    data=self.data,
                    series=self.data.close,
                    bar=bar,
                    position=self.position,
                    ticket=self.buy(0.01, limit=1.0),
                )

    run_backtest(Collector, market, RunConfig())
    return found


@pytest.fixture(scope="module")
def reachable(market: MarketData) -> dict[str, object]:
    return reachable_objects(market)


def public_names(obj: object) -> set[str]:
    return {name for name in dir(type(obj)) if not name.startswith("_")} | {
        name for name in getattr(obj, "__dict__", {}) if not name.startswith("_")
    }


def test_every_public_name_of_the_strategy_base_is_decided() -> None:
    assert {n for n in dir(Strategy) if not n.startswith("_")} == STRATEGY_API


def test_each_reachable_engine_type_has_an_allow_list(reachable: dict[str, object]) -> None:
    engine_types = {type(obj) for key, obj in reachable.items() if key != "strategy"}
    assert engine_types <= set(ENGINE_API)


@pytest.mark.parametrize(
    "key", ["frame", "timeframe", "data", "series", "bar", "position", "ticket"]
)
def test_cant_reach_names_off_the_allow_list(reachable: dict[str, object], key: str) -> None:
    guarded_getattr, _ = make_getattr(lambda obj: False)
    obj = reachable[key]
    allowed = ENGINE_API[type(obj)]
    for name in sorted(public_names(obj) | {"compute", "broker", "market", "cursor", "portfolio"}):
        if name in allowed:
            guarded_getattr(obj, name)
        elif any(name in vars(base) for base in type(obj).__mro__):
            with pytest.raises(SandboxViolation, match=f"no attribute '{name}'"):
                guarded_getattr(obj, name)
        else:  # no such attribute at all: an AttributeError that teaches (test_teaching_errors)
            with pytest.raises(AttributeError, match=f"has no attribute '{name}'"):
                guarded_getattr(obj, name)


def test_the_allowed_names_all_answer(reachable: dict[str, object]) -> None:
    guarded_getattr, _ = make_getattr(lambda obj: False)
    for key in ("frame", "timeframe", "data", "series", "bar", "position", "ticket"):
        obj = reachable[key]
        for name in ENGINE_API[type(obj)]:
            guarded_getattr(obj, name)


def run_source(body: str, market: MarketData) -> None:
    source = "class Probe(Strategy):\n" + textwrap.indent(textwrap.dedent(body), "    ")
    compiled = compile_strategy(source, "probe.py")
    run_backtest(compiled.strategy_class, market, RunConfig())


ENGINE_METHODS = [
    pytest.param(
        """
        def initialize(self):
            self.timeframe("4h").compute("sma", {"length": 3, "offset": -1})
        def on_data(self, bar):
            pass
        """,
        id="timeframe-compute-with-a-mapping",
    ),
    pytest.param(
        """
        def initialize(self):
            self.tf = self.timeframe("4h")
        def on_data(self, bar):
            self.tf.compute("sma", {"length": 3})
        """,
        id="timeframe-compute-later",
    ),
    pytest.param(
        """
        def initialize(self):
            f = self.timeframe("4h").compute
        def on_data(self, bar):
            pass
        """,
        id="timeframe-compute-read",
    ),
    pytest.param(
        """
        def on_data(self, bar):
            self.data.close.broker
        """,
        id="series-attribute",
    ),
    pytest.param(
        """
        def on_data(self, bar):
            self.position.portfolio
        """,
        id="position-attribute",
    ),
    pytest.param(
        """
        def on_data(self, bar):
            t = self.buy(0.01, limit=1.0)
            t.count(1)
        """,
        id="ticket-tuple-method",
    ),
    pytest.param(
        """
        def initialize(self):
            self.m = self.indicator("macd")
        def on_data(self, bar):
            self.m.keys
        """,
        id="frame-attribute",
    ),
]


@pytest.mark.parametrize("body", ENGINE_METHODS)
def test_cant_look_ahead_by_calling_engine_methods(body: str, market: MarketData) -> None:
    # A name the object has is refused (SandboxViolation); one it lacks is an AttributeError
    # with a "did you mean" (test_teaching_errors.py). Either way nothing is reached.
    refused = r"SandboxViolation: '.*' has no attribute|AttributeError: \w+ has no attribute"
    with pytest.raises(StrategyRuntimeError, match=refused):
        run_source(body, market)


def test_the_public_api_still_works_inside_the_sandbox(market: MarketData) -> None:
    run_source(
        """
        def initialize(self):
            self.tf = self.timeframe("4h")
            self.tf_sma = self.tf.indicator("sma", length=3)
            self.macd = self.indicator("macd")
        def on_data(self, bar):
            x = (self.tf.close, self.tf.rule, self.macd.columns, self.data.close.values,
                 self.data.symbol, self.position.size, self.position.is_open, bar.time)
            t = self.buy(0.01, limit=1.0)
            if t is not None:
                y = (t.id, t.side, t.amount)
                self.cancel(t)
        """,
        market,
    )


def test_guarded_access_to_an_unknown_engine_object_exposes_nothing() -> None:
    from app.engine.feed import Cursor

    guarded_getattr, _ = make_getattr(lambda obj: False)
    with pytest.raises(SandboxViolation):
        guarded_getattr(Cursor(), "end")


def test_a_public_method_added_to_the_strategy_base_is_not_reachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A future Strategy with a new public method: until the method is on STRATEGY_API, strategy
    # code cannot read it, while the API and the strategy's own names stay open.
    monkeypatch.setattr(Strategy, "engine_hook", lambda self: "engine", raising=False)
    user_class = type("Mine", (Strategy,), {"mine": 1})
    user_class.__module__ = "strategy"
    guarded_getattr, _ = make_getattr(lambda obj: False)
    probe: object = object.__new__(user_class)
    assert guarded_getattr(probe, "mine") == 1
    assert guarded_getattr(probe, "buy") is not None
    with pytest.raises(SandboxViolation, match="no attribute 'engine_hook'"):
        guarded_getattr(probe, "engine_hook")


def test_an_unlisted_engine_base_exposes_none_of_its_names() -> None:
    engine_base = type("Helper", (Strategy,), {"engine_hook": lambda self: "engine"})
    engine_base.__module__ = "app.engine.helpers"
    user_class = type("Mine", (engine_base,), {"mine": 1})
    user_class.__module__ = "strategy"
    guarded_getattr, _ = make_getattr(lambda obj: False)
    probe: object = object.__new__(user_class)
    assert guarded_getattr(probe, "mine") == 1
    for name in ("engine_hook", "buy"):
        with pytest.raises(SandboxViolation):
            guarded_getattr(probe, name)
