"""The run folder's files: the column-at-a-time writer writes exactly the bytes of the plain
per-row `csv.writer` it replaced (kept below as the specification), for every value shape."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import struct
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine import RunConfig, RunResult, ns_to_iso
from app.engine.results import EquityCurve
from app.engine.types import (
    ExitReason,
    LogLevel,
    LogLine,
    OrderRecord,
    OrderSide,
    OrderStatus,
    OrderType,
    PositionSide,
    Trade,
)
from app.runs import folder
from app.runs.folder import (
    RUN_FILES,
    format_numbers,
    format_optional_numbers,
    format_times,
    write_run_folder,
)

# pandas' nanosecond range, where `ns_to_iso` is defined.
NS_MIN, NS_MAX = -(2**63) + 1_000_000_000, 2**63 - 1_000_000_000


def reference_number(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def reference_time(value: int | None) -> str:
    return "" if value is None else ns_to_iso(value)


def reference_csv(header: tuple[str, ...], rows: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def reference_files(result: RunResult) -> dict[str, str]:
    """What the per-row writer wrote for trades, orders, equity and the log."""
    from app.runs.folder import EQUITY_COLUMNS, ORDER_COLUMNS, TRADE_COLUMNS, TRADE_MARGIN_COLUMNS

    n, t = reference_number, reference_time
    trades = [
        [
            *(t(x.entry_time), t(x.exit_time), x.side.value, n(x.size), n(x.entry_price)),
            *(n(x.exit_price), n(x.pnl), n(x.fees), x.exit_reason.value),
            # leverage and margin, empty when no margin was recorded
            *((n(x.size * x.entry_price / x.margin), n(x.margin)) if x.margin > 0 else ("", "")),
        ]
        for x in result.trades
    ]
    orders = [
        [
            *(str(o.id), t(o.created_time), o.side.value, o.type.value, n(o.amount)),
            *(n(o.limit_price), n(o.stop_price), n(o.leverage), n(o.stop_loss), n(o.take_profit)),
            *(o.status.value, t(o.filled_time), n(o.filled_price), n(o.filled_amount), n(o.fee)),
            o.reason,
        ]
        for o in result.orders
    ]
    c = result.equity
    equity = [
        [ns_to_iso(int(c.time[i])), *(repr(float(col[i])) for col in _curve_columns(c))]
        for i in range(len(c.time))
    ]
    log = "".join(
        f"{ns_to_iso(x.time)} bar={x.bar_index} {x.level.value}: {x.message}\n" for x in result.logs
    )
    return {
        "trades.csv": reference_csv(TRADE_COLUMNS + TRADE_MARGIN_COLUMNS, trades),
        "orders.csv": reference_csv(ORDER_COLUMNS, orders),
        "equity.csv": reference_csv(EQUITY_COLUMNS, equity),
        "log.txt": log,
    }


def _curve_columns(c: EquityCurve) -> tuple[npt.NDArray[np.float64], ...]:
    return (c.cash, c.margin, c.unrealized, c.equity, c.position)


AWKWARD_FLOATS = [0.0, -0.0, 1e-5, 1e-4, 1e15, 1e16, 1e22, 5e-324, 1.7976931348623157e308]
AWKWARD_FLOATS += [0.1 + 0.2, -123.456, 30_000.123456789, float("nan"), math.inf, -math.inf]
SIDES = [PositionSide.LONG, PositionSide.SHORT] * 3
AWKWARD_REASONS = ["", "plain", "has, comma", 'has "quotes"', "new\nline", "cr\rhere", " lead"]


def awkward_result(bars: int = 40) -> RunResult:
    times = np.arange(bars, dtype=np.int64) * 60_000_000_000 - 3 * 60_000_000_000 - 7
    repeated = np.resize(np.array(AWKWARD_FLOATS), bars)
    curve = EquityCurve(
        time=times,
        cash=np.full(bars, 10_000.0),
        margin=repeated,
        unrealized=np.linspace(-1.0, 1.0, bars, dtype=np.float64),
        equity=repeated[::-1].copy(),
        position=np.where(np.arange(bars) % 2 == 0, 0.0, -0.0),
    )
    trades = tuple(
        Trade(
            *(int(times[i]), int(times[i + 1]), i, i + 1, side, 0.5 + i, 100.0, 101.5, -0.0),
            *(1e-5, r, 0.0 if i % 2 else (0.5 + i) * 100.0 / 3.0),  # no margin recorded, or 3x
        )
        for i, (side, r) in enumerate(zip(SIDES[: len(ExitReason)], ExitReason, strict=True))
        if i + 1 < bars
    )
    orders = tuple(
        OrderRecord(
            i,
            int(times[i]),
            i,
            OrderSide.BUY if i % 2 else OrderSide.SELL,
            list(OrderType)[i % 3],
            AWKWARD_FLOATS[i % len(AWKWARD_FLOATS)],
            None if i % 2 else 99.5,
            None if i % 3 else 1e16,
            125.0,
            None,
            0.1 + 0.2 if i % 4 else None,
            list(OrderStatus)[i % 5],
            None if i % 2 else int(times[i + 1]),
            None if i % 2 else 100.25,
            0.0,
            -0.0,
            AWKWARD_REASONS[i % len(AWKWARD_REASONS)],
        )
        for i in range(bars - 1)
    )
    logs = tuple(
        LogLine(int(times[i]), i, LogLevel.INFO, AWKWARD_REASONS[i % len(AWKWARD_REASONS)])
        for i in range(bars)
    )
    return RunResult(
        strategy="Awkward",
        params={},
        config=RunConfig(),
        bars_total=bars,
        equity=curve,
        trades=trades,
        orders=orders,
        logs=logs,
        logs_dropped=0,
        metrics={},
    )


def test_files_are_the_bytes_the_per_row_writer_wrote(tmp_path: Path) -> None:
    result = awkward_result()
    write_run_folder(result, tmp_path, {"run": 1})
    for name, expected in reference_files(result).items():
        assert (tmp_path / name).read_bytes() == expected.encode(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(RUN_FILES)


def test_empty_run_writes_headers_only(tmp_path: Path) -> None:
    result = awkward_result(bars=0)
    write_run_folder(result, tmp_path, {})
    for name, expected in reference_files(result).items():
        assert (tmp_path / name).read_bytes() == expected.encode(), name


def test_rewriting_a_run_gives_the_same_bytes(tmp_path: Path) -> None:
    result = awkward_result()
    write_run_folder(result, tmp_path / "a", {})
    write_run_folder(result, tmp_path / "b", {})
    for name in RUN_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


any_float = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
bit_patterns = st.integers(min_value=0, max_value=2**64 - 1).map(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(any_float, bit_patterns, st.sampled_from(AWKWARD_FLOATS)), max_size=60))
def test_numbers_print_as_python_repr(values: list[float]) -> None:
    # Repeating the list exercises the path that formats each distinct value once.
    for column in (values, values * 3):
        assert format_numbers(column) == [repr(v) for v in column]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), any_float), max_size=30))
def test_missing_numbers_are_empty_fields(values: list[float | None]) -> None:
    assert format_optional_numbers(values) == [reference_number(v) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=NS_MIN, max_value=NS_MAX), max_size=40))
def test_times_print_as_ns_to_iso(values: list[int]) -> None:
    assert format_times(values) == [ns_to_iso(v) for v in values]


@pytest.mark.parametrize("ns", [-1, -999_999_999, -1_000_000_000, 0, 1, 999_999_999, 10**18])
def test_sub_second_times_floor_like_ns_to_iso(ns: int) -> None:
    assert format_times([ns]) == [ns_to_iso(ns)]


@pytest.mark.parametrize("block_rows", [1, 7, 100, 300, 1_000])
def test_equity_written_in_blocks_is_the_per_row_writers_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_rows: int
) -> None:
    # Blocks of 1 row, blocks that do and do not divide the 300 rows, one block for all of
    # them; blocks over 64 rows take the run and distinct-value paths.
    monkeypatch.setattr(folder, "EQUITY_BLOCK_ROWS", block_rows)
    result = awkward_result(bars=300)
    folder.write_equity_csv(tmp_path / "equity.csv", result)
    expected = reference_files(result)["equity.csv"]
    assert (tmp_path / "equity.csv").read_bytes() == expected.encode()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(AWKWARD_FLOATS), st.integers(1, 40)), min_size=1),
    st.lists(any_float, min_size=1, max_size=50),
    st.sampled_from([60_000_000_000, 86_400_000_000_000, 7 * 86_400_000_000_000 + 1, 2**50]),
    st.integers(NS_MIN // 2, NS_MAX // 2),
)
def test_equity_rows_of_account_runs_and_any_times_are_the_per_row_writers_bytes(
    runs: list[tuple[float, int]], moving: list[float], step: int, first: int
) -> None:
    """Cash, margin and position held for runs of bars (the shared `cash,margin,` and
    `,position` texts), the PnL and equity moving, bars a minute, a day, a week and a bit,
    or ~13 days of 2**50 ns apart (a range of days too wide for the table, np.unique's)."""
    account = np.repeat([value for value, _ in runs], [count for _, count in runs])
    bars = account.size
    times = first + np.arange(bars, dtype=np.int64) * min(step, (NS_MAX - first) // max(bars, 1))
    moving_column = np.resize(np.array(moving, dtype=np.float64), bars)
    curve = EquityCurve(
        time=times,
        cash=account,
        margin=account[::-1].copy(),
        unrealized=moving_column,
        equity=moving_column[::-1].copy(),
        position=np.roll(account, 3),
    )
    result = dataclasses.replace(awkward_result(bars=0), equity=curve)
    with tempfile.TemporaryDirectory() as folder_path:
        path = Path(folder_path) / "equity.csv"
        folder.write_equity_csv(path, result)
        written = path.read_bytes()
    assert written == reference_files(result)["equity.csv"].encode()


def test_empty_equity_curve_is_the_header_alone(tmp_path: Path) -> None:
    result = awkward_result(bars=0)
    folder.write_equity_csv(tmp_path / "equity.csv", result)
    assert (tmp_path / "equity.csv").read_text() == ",".join(folder.EQUITY_COLUMNS) + "\n"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(any_float, st.sampled_from(AWKWARD_FLOATS)), st.integers(1, 50)),
        max_size=12,
    )
)
def test_runs_of_equal_numbers_print_as_python_repr(runs: list[tuple[float, int]]) -> None:
    # Long runs of one value (an equity curve's cash, margin, position) take the run path.
    column = [value for value, length in runs for _ in range(length)]
    column += column[:1] * 65  # past the short-column shortcut
    assert format_numbers(column) == [repr(v) for v in column]


def test_a_column_of_few_values_out_of_order_prints_as_python_repr() -> None:
    # Few distinct values but no runs: the distinct-value path, with -0.0 kept apart from 0.0.
    column = np.resize(np.array([0.0, -0.0, 1.5, math.nan, 1e16]), 5_000)
    assert format_numbers(column) == [repr(float(v)) for v in column]


@pytest.mark.parametrize("day", [-1, 0, 1, 19_723, 106_751])
def test_times_across_midnight_print_as_ns_to_iso(day: int) -> None:
    # Seconds either side of a UTC midnight, before 1970 too: the day and time-of-day parts.
    midnight = day * 86_400_000_000_000
    offsets = [-1_000_000_001, -1, 0, 1, 59_999_999_999] * 20  # 100: past the short shortcut
    values = [midnight + offset for offset in offsets if NS_MIN <= midnight + offset <= NS_MAX]
    assert format_times(values) == [ns_to_iso(v) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=NS_MIN, max_value=NS_MAX), min_size=1, max_size=20))
def test_long_time_columns_print_as_ns_to_iso(values: list[int]) -> None:
    # Repeated past the short-column shortcut: the day and time-of-day path.
    column = (values * 70)[:140]
    expected = [ns_to_iso(v) for v in values]
    assert format_times(column) == (expected * 70)[:140]


def test_a_long_time_column_holding_nat_prints_as_numpy_does() -> None:
    # int64's least value is numpy's NaT; never a bar time, but printed as before if it came.
    nat = np.iinfo(np.int64).min
    column = [0, nat] * 40
    assert format_times(column) == ["1970-01-01T00:00:00Z", "NaTZ"] * 40


@pytest.mark.parametrize("has_orjson", [True, False])
def test_a_long_column_of_every_magnitude_prints_as_python_repr(
    monkeypatch: pytest.MonkeyPatch, has_orjson: bool
) -> None:
    # Distinct values (the path a whole equity curve takes), from subnormals to the largest
    # floats, both signs, zeros, NaN and infinities; orjson prints some of them, repr the rest.
    if not has_orjson:
        monkeypatch.setattr(folder, "_ORJSON", None)
    rng = np.random.default_rng(13)
    magnitudes = 10.0 ** rng.uniform(-320, 308, 20_000)
    column = np.concatenate(
        [
            np.where(rng.random(20_000) < 0.5, -magnitudes, magnitudes),
            rng.integers(0, 2**63, 5_000, dtype=np.int64).view(np.float64),  # bit patterns
            [0.0, -0.0, math.nan, -math.nan, math.inf, -math.inf, 1e-4, 1e-5, 1e16, 5e-324],
            np.round(rng.normal(30_000.0, 500.0, 5_000), 2),
        ]
    )
    assert folder.float_reprs(column) == [repr(float(v)) for v in column]
    assert format_numbers(column) == [repr(float(v)) for v in column]
    assert folder.float_reprs(np.zeros(0)) == []


@pytest.mark.parametrize("reason", ["plain", "", " lead", "has, comma", 'has "quotes"', "cr\rhere"])
def test_rows_joined_without_the_csv_writer_are_its_bytes(tmp_path: Path, reason: str) -> None:
    # Orders whose reasons need no quoting are joined directly; one that does takes the writer.
    awkward = awkward_result(bars=200)
    result = dataclasses.replace(
        awkward, orders=tuple(order._replace(reason=reason) for order in awkward.orders)
    )
    write_run_folder(result, tmp_path, {})
    for name in ("orders.csv", "trades.csv"):
        expected = reference_files(result)[name]
        assert (tmp_path / name).read_bytes() == expected.encode(), name


@pytest.mark.parametrize("block_rows", [1, 2, 3, 1_000])
def test_records_written_in_blocks_are_the_per_row_writers_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_rows: int
) -> None:
    # trades.csv and orders.csv a block of rows at a time; only one order's reason needs
    # quoting, so its block goes through the writer and the others are joined directly.
    monkeypatch.setattr(folder, "RECORD_BLOCK_ROWS", block_rows)
    awkward = awkward_result(bars=200)
    orders = list(awkward.orders)
    orders[len(orders) // 2] = orders[len(orders) // 2]._replace(reason='needs, "quoting"')
    result = dataclasses.replace(awkward, orders=tuple(orders))
    write_run_folder(result, tmp_path, {})
    for name in ("orders.csv", "trades.csv"):
        expected = reference_files(result)[name]
        assert (tmp_path / name).read_bytes() == expected.encode(), name
