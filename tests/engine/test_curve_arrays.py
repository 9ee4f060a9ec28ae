"""The equity curve and the drawdown figures computed in place (no per-bar copies) are the
numbers the plain formulas give, bit for bit: the formulas are written out here as the spec."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import metrics
from app.engine.results import AccountMarks, equity_curve, exposed_bars, mark_of_bars

marks_and_range = st.tuples(
    st.lists(st.integers(0, 80), max_size=15, unique=True).map(sorted),
    st.integers(0, 40),
    st.integers(0, 60),
)


@settings(max_examples=300, deadline=None)
@given(marks_and_range)
def test_each_bar_carries_the_latest_mark_at_or_before_it(case: tuple[list[int], int, int]) -> None:
    index, start, length = case
    marks = np.array(index, dtype=np.int64)
    bars = np.arange(start, start + length)
    expected = np.searchsorted(marks, bars, side="right") - 1
    assert mark_of_bars(marks, start, start + length).tolist() == expected.tolist()


def reference_curve(
    marks: AccountMarks, close: npt.NDArray[np.float64], other: npt.NDArray[np.float64], start: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    which = np.searchsorted(marks.index, np.arange(start, len(close)), side="right") - 1
    unrealized = marks.signed_size[which] * (close[start:] - marks.entry_price[which])
    sizes, entries = marks.other_symbols[0]
    unrealized = unrealized + sizes[which] * (other[start:] - entries[which])
    return unrealized, marks.cash[which] + marks.margin[which] + unrealized


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 200), st.integers(1, 20))
def test_the_curve_is_the_written_out_formula(seed: int, bars: int, count: int) -> None:
    rng = np.random.default_rng(seed)
    start = int(rng.integers(0, bars))
    index = np.unique(np.concatenate(([start], rng.integers(start, bars, count))))
    n = len(index)

    def column() -> npt.NDArray[np.float64]:
        return np.asarray(rng.normal(0.0, 1e3, n).round(int(rng.integers(0, 9))), dtype=np.float64)

    marks = AccountMarks(
        index=index.astype(np.int64),
        cash=column(),
        margin=np.abs(column()),
        signed_size=column(),
        entry_price=np.abs(column()) + 1.0,
        other_symbols=((column(), np.abs(column()) + 1.0),),
    )
    time = np.arange(bars, dtype=np.int64) * 60_000_000_000
    close = rng.lognormal(3.0, 0.5, bars)
    other = rng.lognormal(2.0, 0.5, bars)
    curve = equity_curve(marks, time, close, start, bars, (other,))
    unrealized, equity = reference_curve(marks, close, other, start)
    assert curve.unrealized.tobytes() == unrealized.tobytes()
    assert curve.equity.tobytes() == equity.tobytes()
    assert np.shares_memory(curve.time, time), "the times are a view, not a copy"
    assert curve.time.tolist() == time[start:].tolist()
    which = np.searchsorted(marks.index, np.arange(start, bars), side="right") - 1
    expected = (marks.signed_size[which] != 0) | (marks.other_symbols[0][0][which] != 0)
    assert exposed_bars(curve, marks, start).tolist() == expected.tolist()


def reference_drawdown(initial: float, equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    peaks = np.maximum.accumulate(np.concatenate(([initial], equity)))[1:]
    drawdowns: npt.NDArray[np.float64] = equity / peaks - 1.0
    return drawdowns


def reference_drawdown_days(
    initial: float, times: npt.NDArray[np.int64], equity: npt.NDArray[np.float64], bar_ns: int
) -> float:
    series = np.concatenate(([initial], equity))
    positions = np.flatnonzero(series >= np.maximum.accumulate(series))
    clock = np.concatenate(([times[0]], times + bar_ns))
    ends = np.append(positions[1:], len(series) - 1)
    return int(np.max(clock[ends] - clock[positions])) / metrics.NS_PER_DAY


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(1.0, 1e6, allow_nan=False), min_size=1, max_size=80),
    st.sampled_from([1.0, 50.0, 1e3, 1e7]),
)
def test_drawdowns_are_the_written_out_formula(values: list[float], initial: float) -> None:
    equity = np.array(values, dtype=np.float64)
    times = np.cumsum(np.arange(1, len(values) + 1, dtype=np.int64)) * 60_000_000_000
    got = metrics.drawdown(initial, equity)
    assert got.tobytes() == reference_drawdown(initial, equity).tobytes()
    expected = reference_drawdown_days(initial, times, equity, 60_000_000_000)
    assert metrics._max_drawdown_days(initial, times, equity, 60_000_000_000) == expected
