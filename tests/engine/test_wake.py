"""Wake-ups (`self.wake_on`): a strategy whose on_data acts only on its declared signals gets
the same run, to the byte, as when on_data is called on every bar; the bars it is woken on
depend on nothing after them; a resumed run with a declaration equals the whole run; and a
strategy that declares nothing is still called on every bar."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from app.engine import (
    Bar,
    OrderTicket,
    ParamValue,
    RunConfig,
    Strategy,
    crossover,
    crossunder,
    simulate,
)
from app.engine.checkpoint import Checkpoint
from app.engine.checkpoint_document import checkpoint_from_plain, checkpoint_to_plain
from app.engine.errors import StrategyRuntimeError
from app.engine.feed import Cursor, SeriesView
from app.engine.loop import run_backtest
from app.engine.results import RunRecord
from app.engine.types import Mode
from app.engine.wake import WakePlan, fires
from app.runs.folder import write_run_folder
from tests.engine.randomized import cut, random_market


class WakeStrategy(Strategy):
    """Base of the test strategies: `params["wake"]` switches the declaration on; `declare`
    is the strategy's wake_on calls."""

    params: ClassVar[dict[str, ParamValue]] = {"wake": False}

    def declare(self) -> None:
        raise NotImplementedError

    def signals(self) -> None:
        raise NotImplementedError

    def initialize(self) -> None:
        self.setup()
        if self.params["wake"]:
            self.declare()

    def setup(self) -> None:
        self.fast = self.indicator("sma", length=4)
        self.slow = self.indicator("sma", length=11)

    def on_data(self, bar: Bar) -> None:
        self.signals()


class Reversal(WakeStrategy):
    """The SMA crossover, always in the market, futures at 3x."""

    def declare(self) -> None:
        self.wake_on("cross", self.fast, self.slow)

    def signals(self) -> None:
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0, leverage=3)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(1.0, leverage=3)


class StopsAndTargets(WakeStrategy):
    """Enters on a crossover with a stop-loss and a take-profit; the exits close its trades."""

    def declare(self) -> None:
        self.wake_on("crossover", self.fast, self.slow)
        self.wake_on("crossunder", self.fast, self.slow)

    def signals(self) -> None:
        price = self.data.close[-1]
        if self.position:
            return
        if crossover(self.fast, self.slow):
            self.buy(1.0, leverage=2, stop_loss=price * 0.99, take_profit=price * 1.015)
        elif crossover(self.slow, self.fast):
            self.sell(1.0, leverage=2, stop_loss=price * 1.01, trailing_percent=1.2)


class RestingLimits(WakeStrategy):
    """Rests a limit below the close when RSI is low, cancels it when RSI recovers, and logs
    each trade it sees closed: it acts on its levels and on the broker's events."""

    state = ("ticket", "seen")

    def setup(self) -> None:
        self.rsi: Any = self.indicator("rsi", length=6)
        self.ticket: OrderTicket | None = None
        self.seen = 0

    def declare(self) -> None:
        self.wake_on("below", self.rsi, 35)
        self.wake_on("above", self.rsi, 60.0)

    def signals(self) -> None:
        if len(self.trades) != self.seen:
            self.seen = len(self.trades)
            self.log("closed", self.trades[-1].exit_reason, round(self.get_equity(), 6))
        if len(self.open_orders) == 0:
            self.ticket = None
        rsi = self.rsi[-1]
        if rsi < 35 and self.ticket is None and not self.position:
            price = self.data.close[-1] * 0.995
            self.ticket = self.buy(2.0, leverage=5, limit=price, take_profit=price * 1.02)
        elif rsi > 60:
            if self.ticket is not None:
                self.cancel(self.ticket)
                self.ticket = None
            if self.position.is_long:
                self.close_position()


class Liquidated(WakeStrategy):
    """Futures at 60x with funding: shorts and longs on crossovers, and is liquidated often;
    it re-enters on the bar a liquidation is seen."""

    state = ("liquidations",)

    def setup(self) -> None:
        super().setup()
        self.liquidations = 0

    def declare(self) -> None:
        self.wake_on("cross", self.fast, self.slow)

    def signals(self) -> None:
        closed = [t for t in self.trades if t.exit_reason == "liquidation"]
        if len(closed) != self.liquidations:
            self.liquidations = len(closed)
            self.log("liquidated", self.liquidations, self.get_cash())
        if crossover(self.fast, self.slow) and not self.position.is_long:
            self.close_position()
            self.buy(equity_fraction=0.3, leverage=60)
        elif crossover(self.slow, self.fast) and not self.position.is_short:
            self.close_position()
            self.sell(equity_fraction=0.3, leverage=60)


class Periodic(WakeStrategy):
    """Rebalances every 7 bars from the first (warm-up 0: the first bar is bar 0)."""

    warmup = 0

    def declare(self) -> None:
        self.wake_on(every=7)

    def signals(self) -> None:
        bar_index = len(self.data.close) - 1
        if bar_index % 7:
            return
        if self.position.is_long:
            self.sell(2.0, leverage=2)
        else:
            self.close_position()
            self.buy(1.0, leverage=2)


class HigherTimeframe(WakeStrategy):
    """Crossovers of SMAs on 4h bars, read on 1h bars (a higher timeframe's own cursor)."""

    def setup(self) -> None:
        self.h4 = self.timeframe("4h")
        self.fast = self.h4.indicator("sma", length=2)
        self.slow = self.h4.indicator("sma", length=5)

    def declare(self) -> None:
        self.wake_on("cross", self.fast, self.slow)

    def signals(self) -> None:
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(1.0)
        elif crossover(self.slow, self.fast):
            self.close_position()
            self.sell(1.0)


SIGNAL_STRATEGIES = (Reversal, StopsAndTargets, RestingLimits, Liquidated, Periodic)
BASE = RunConfig(cash=10_000.0, fee_maker=0.0002, fee_taker=0.0005, slippage_bps=1.0)
CONFIGS: dict[type[WakeStrategy], RunConfig] = {
    Liquidated: replace(BASE, funding_rate=0.002, funding_interval_h=8, leverage_max=100.0),
    RestingLimits: replace(BASE, funding_rate=0.0005),
}


def _config(strategy: type[WakeStrategy], *, wake: bool, **values: Any) -> RunConfig:
    return replace(CONFIGS.get(strategy, BASE), params=(("wake", wake),), **values)


def _folder_bytes(
    strategy: type[WakeStrategy], seed: int, wake: bool, tmp: Path
) -> dict[str, bytes]:
    market = random_market(seed, 1_500, gap_chance=0.05)
    config = _config(strategy, wake=wake)
    result = run_backtest(strategy, market, config)
    folder = tmp / f"{strategy.__name__}-{seed}-{wake}"
    write_run_folder(result, folder, {})
    files = {path.name: path.read_bytes() for path in sorted(folder.iterdir())}
    assert files["trades.csv"].count(b"\n") > 3, "the run must trade for the test to mean much"
    return files


@pytest.mark.parametrize("seed", [3, 11])
@pytest.mark.parametrize("strategy", [*SIGNAL_STRATEGIES, HigherTimeframe])
def test_a_declared_run_writes_the_same_bytes_as_the_every_bar_run(
    strategy: type[WakeStrategy], seed: int, tmp_path: Path
) -> None:
    every_bar = _folder_bytes(strategy, seed, False, tmp_path)
    declared = _folder_bytes(strategy, seed, True, tmp_path)
    assert declared.keys() == every_bar.keys()
    for name, data in every_bar.items():
        assert declared[name] == data, name


def test_the_futures_case_does_liquidate_and_pay_funding() -> None:
    market = random_market(3, 1_500, gap_chance=0.05)
    result = run_backtest(Liquidated, market, _config(Liquidated, wake=True))
    assert result.metrics["liquidations"] and result.metrics["funding_paid"]


class Counter(WakeStrategy):
    """Counts its calls, and what it saw on each: the bar's index and how many closes were
    visible (so the last visible one is the bar's own)."""

    calls: ClassVar[list[tuple[int, int, float]]]

    def declare(self) -> None:
        self.wake_on("cross", self.fast, self.slow)

    def signals(self) -> None:
        raise AssertionError("not used")

    def on_data(self, bar: Bar) -> None:
        type(self).calls.append((bar.index, len(self.data.close), self.data.close[-1]))


def _calls(market: Any, wake: bool, **values: Any) -> list[tuple[int, int, float]]:
    calls: list[tuple[int, int, float]] = []
    counter = type("Counting", (Counter,), {"calls": calls})
    run_backtest(counter, market, _config(counter, wake=wake, **values))
    return calls


def test_an_undeclared_strategy_is_called_on_every_bar_after_the_warm_up() -> None:
    market = random_market(5, 600, gap_chance=0.0)
    calls = _calls(market, wake=False)
    assert [index for index, _, _ in calls] == list(range(10, 600))  # sma(11) from bar 10


def test_a_declared_strategy_is_called_on_the_first_bar_and_where_its_signal_fires() -> None:
    market = random_market(5, 600, gap_chance=0.0)
    calls = _calls(market, wake=True)
    fast = np.convolve(market.close, np.ones(4) / 4)[3:600]  # sma(4) from bar 3
    slow = np.convolve(market.close, np.ones(11) / 11)[10:600]
    above = fast[7:] > slow  # both from bar 10
    crossed = [10 + i for i in range(1, len(above)) if above[i] != above[i - 1]]
    assert [index for index, _, _ in calls] == [10, *crossed]
    assert 10 < len(calls) < 200


def test_the_bars_a_strategy_is_woken_on_depend_on_nothing_after_them() -> None:
    market = random_market(8, 900, gap_chance=0.05)
    whole = _calls(market, wake=True)
    for bars in (40, 333, 512, 899):
        early = _calls(cut(market, bars), wake=True)
        assert early == [call for call in whole if call[0] < bars]
    for index, visible, close in whole:  # on each: its own bar is the last one visible
        assert visible == index + 1 and close == market.close[index]


class Peeker(Strategy):
    """Tries to declare on data of its own making (a list, an array, a shifted copy)."""

    params: ClassVar[dict[str, ParamValue]] = {"what": "list"}

    def initialize(self) -> None:
        closes = np.asarray(self.data.close)  # only the bars visible now: none
        future = {"list": [1.0, 2.0], "array": closes, "frame": self.indicator("macd")}
        self.wake_on("cross", future[str(self.params["what"])], self.data.close)

    def on_data(self, bar: Bar) -> None:
        pass


@pytest.mark.parametrize(
    ("what", "words"),
    [
        ("list", "must be a series of this run"),
        ("array", "must be a series of this run"),
        ("frame", "pick one column"),
    ],
)
def test_a_declaration_takes_only_the_runs_own_series(what: str, words: str) -> None:
    market = random_market(1, 200, gap_chance=0.0)
    config = RunConfig(params=(("what", what),))
    with pytest.raises(StrategyRuntimeError, match=words) as caught:
        run_backtest(Peeker, market, config)
    assert caught.value.phase == "initialize()"


class BadDeclaration(Strategy):
    """Declares `params["call"]` (a key of DECLARATIONS) in initialize, or in on_data."""

    params: ClassVar[dict[str, ParamValue]] = {"call": "unknown kind"}

    def initialize(self) -> None:
        self.sma = self.indicator("sma", length=3)
        if self.params["call"] != "late":
            DECLARATIONS[str(self.params["call"])][0](self)

    def on_data(self, bar: Bar) -> None:
        if self.params["call"] == "late":
            self.wake_on("cross", self.sma, self.data.close)


class _Sly(str):
    """Text that claims to be a known kind when asked, and equal to anything."""

    __slots__ = ()

    def lower(self) -> str:
        return "cross"

    def __eq__(self, other: object) -> bool:
        return True

    def __hash__(self) -> int:
        return hash("cross")


DECLARATIONS: dict[str, tuple[Any, str]] = {
    "unknown kind": (lambda s: s.wake_on("crosses", s.sma, 3), 'one of "cross"'),
    "one operand": (lambda s: s.wake_on("above", s.sma), "takes two series"),
    "nothing": (lambda s: s.wake_on(), "needs a condition or every=N"),
    "bad every": (lambda s: s.wake_on(every=0), "whole number of bars, 1 or more"),
    "float every": (lambda s: s.wake_on(every=2.5), "whole number of bars"),
    "number first": (lambda s: s.wake_on("above", 3, s.sma), "a must be a series of this run"),
    "timeframe": (lambda s: s.wake_on("cross", s.timeframe("4h"), s.sma), "pick one of its"),
    "nan level": (lambda s: s.wake_on("below", s.sma, float("nan")), "level is NaN"),
    "late": (None, "wake_on is declared in initialize()"),
    "str subclass": (lambda s: s.wake_on(_Sly("nope"), s.sma, 3), "not 'nope'"),
}


@pytest.mark.parametrize("call", list(DECLARATIONS))
def test_a_bad_declaration_is_one_sentence(call: str) -> None:
    market = random_market(1, 200, gap_chance=0.0)
    with pytest.raises(StrategyRuntimeError, match=DECLARATIONS[call][1]) as caught:
        run_backtest(BadDeclaration, market, RunConfig(params=(("call", call),)))
    assert "\n" not in caught.value.message
    assert caught.value.phase == ("on_data()" if call == "late" else "initialize()")


def _same_record(left: RunRecord, right: RunRecord, *, skip: tuple[str, ...] = ()) -> None:
    for spec in fields(RunRecord):
        if spec.name not in ("marks", *skip):
            assert getattr(left, spec.name) == getattr(right, spec.name), spec.name
    for spec in fields(left.marks):
        assert np.array_equal(getattr(left.marks, spec.name), getattr(right.marks, spec.name))


def _through_json(checkpoint: Checkpoint) -> Checkpoint:
    text = json.dumps(checkpoint_to_plain(checkpoint), allow_nan=False)
    return checkpoint_from_plain(json.loads(text))


@pytest.mark.parametrize("strategy", [RestingLimits, Liquidated])
def test_a_run_resumed_with_a_declaration_records_what_the_whole_run_records(
    strategy: type[WakeStrategy],
) -> None:
    market = random_market(3, 1_200, gap_chance=0.05)
    config = _config(strategy, wake=True, checkpoint_every=150)
    taken: list[Checkpoint] = []
    whole = simulate(strategy, market, config, on_checkpoint=taken.append)
    every_bar = simulate(strategy, market, _config(strategy, wake=False))
    _same_record(whole, every_bar, skip=("params",))
    assert len(taken) >= 6 and whole.trades
    for checkpoint in taken:
        resumed = simulate(strategy, market, config, resume=_through_json(checkpoint))
        _same_record(resumed, whole)


def test_progress_reports_are_those_of_the_every_bar_run() -> None:
    market = random_market(4, 1_000, gap_chance=0.05)
    reports: dict[bool, list[Any]] = {True: [], False: []}
    for wake in (True, False):
        run_backtest(
            Reversal, market, _config(Reversal, wake=wake), on_progress=reports[wake].append
        )
    assert len(reports[True]) > 100
    assert reports[True] == reports[False]


def test_spot_mode_declared_equals_every_bar() -> None:
    market = random_market(9, 1_000, gap_chance=0.05)
    spot = {"mode": Mode.SPOT, "cash": 1_000.0}
    declared = run_backtest(Periodic, market, _config(Periodic, wake=True, **spot))
    every_bar = run_backtest(Periodic, market, _config(Periodic, wake=False, **spot))
    assert declared.trades == every_bar.trades and declared.metrics == every_bar.metrics


@pytest.mark.parametrize("seed", range(6))
def test_each_kind_fires_exactly_where_the_helpers_say_at_that_bar(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bars = 400
    # whole numbers, so ties (a == b now or before) happen often; NaN at the start, as
    # indicators have during their warm-up
    a_values = rng.integers(0, 4, bars).astype(np.float64)
    b_values = rng.integers(0, 4, bars).astype(np.float64)
    a_values[: rng.integers(0, 5)] = np.nan
    cursor = Cursor()
    a, b = SeriesView(a_values, cursor, "a"), SeriesView(b_values, cursor, "b")
    plan = WakePlan(cursor)
    helpers: dict[str, Callable[[Any, Any], bool]] = {
        "cross": lambda x, y: crossover(x, y) or crossover(y, x),
        "crossover": crossover,
        "crossunder": crossunder,
        "above": lambda x, y: x[-1] > (y if isinstance(y, float) else y[-1]),
        "below": lambda x, y: x[-1] < (y if isinstance(y, float) else y[-1]),
    }
    for kind, helper in helpers.items():
        for other in (b, 2.0):
            plan.conditions.clear()
            plan.declare((kind, a, other), None)
            mask = fires(plan.conditions[0], bars, cursor)
            expected = []
            for index in range(bars):
                cursor.end = index + 1
                expected.append(bool(helper(a, other)))
            assert mask.tolist() == expected, (kind, other)


def test_the_bars_are_the_first_the_conditions_and_every_n_together() -> None:
    cursor = Cursor()
    closes = SeriesView(np.array([1.0, 3.0, 1.0, 1.0, 3.0, 3.0, 1.0, 3.0, 1.0, 1.0]), cursor, "c")
    plan = WakePlan(cursor)
    plan.declare(("above", closes, 2.0), None)
    plan.declare((), 4)
    # first 2; above 2 at 1, 4, 5, 7 (1 is before the first: dropped); every 4 from 2: 2, 6
    assert plan.bars(2, 10).tolist() == [2, 4, 5, 6, 7]
    assert plan.bars(10, 10).tolist() == []
