"""The second line against look-ahead: an indicator's values over the first bars of the data must
be exactly the values it has at those bars when computed on all of the data.

An indicator that reads later bars (a shift towards the past, a centred window, a whole-data fit,
a pivot confirmed afterwards) gives different values, or NaN where the whole-data run has a
number, once the later bars are cut off. The check recomputes the indicator on several prefixes
("cuts") and compares them with the whole-data values, deterministically:

- the cuts are placed a fixed number of bars after the indicator's first value (1, 2, 9, 64,
  512 and 4,096 bars), so a long warm-up can never leave every compared value NaN, and they
  are bounded: the work is a few thousand bars whatever the length of the data;
- the columns must be the same: a column only the prefix has is a mismatch, and a column
  pandas-ta leaves out of a short prefix counts as all NaN there (so it must be NaN in the
  whole-data values too);
- NaN is handled explicitly: NaN against NaN at the same bar agrees, NaN against a number is a
  mismatch (a value that only exists once later bars arrive), numbers agree within 1e-9
  relative (pandas-ta's own recursions are deterministic; the tolerance covers summation order).

It runs for every indicator request, after the settings allow-list, so a setting or an
indicator the rules did not foresee is still caught.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from app.deferred_imports import deferred
from app.engine.errors import IndicatorError
from app.engine.feed import FloatArray
from app.engine.indicator_rules import IndicatorArg

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

# Bars after the first value at which the data is cut; the last also bounds the work.
CUT_OFFSETS = (1, 2, 9, 64, 512, 4_096)
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12

type Compute = Callable[[pd.DataFrame, str, Mapping[str, IndicatorArg]], dict[str, FloatArray]]


def first_value_index(columns: Mapping[str, FloatArray]) -> int:
    """The first bar at which any column has a value (not NaN); 0 when none has."""
    firsts = [int(np.argmax(~np.isnan(v))) for v in columns.values() if (~np.isnan(v)).any()]
    return min(firsts) if firsts else 0


def cut_points(bars: int, first_value: int) -> list[int]:
    """Prefix lengths to recompute on: fixed distances after the first value, inside the data.

    At least one cut whenever there are two bars or more (the data minus its last bar)."""
    cuts = {first_value + step for step in CUT_OFFSETS if first_value + step < bars}
    if not cuts and bars >= 2:
        cuts.add(bars - 1)
    return sorted(cuts)


def mismatched_bars(prefix: FloatArray, whole: FloatArray) -> npt.NDArray[np.bool_]:
    """True where the two disagree: NaN against a number, or numbers too far apart."""
    prefix_nan, whole_nan = np.isnan(prefix), np.isnan(whole)
    with np.errstate(invalid="ignore"):
        equal = prefix == whole  # also infinities of the same sign
        close = np.isclose(
            prefix, whole, rtol=RELATIVE_TOLERANCE, atol=ABSOLUTE_TOLERANCE, equal_nan=False
        )
    agree: npt.NDArray[np.bool_] = (prefix_nan & whole_nan) | (
        ~prefix_nan & ~whole_nan & (equal | close)
    )
    return np.logical_not(agree)


def check_prefix_stable(
    frame: pd.DataFrame,
    name: str,
    settings: Mapping[str, IndicatorArg],
    whole: Mapping[str, FloatArray],
    compute: Compute,
) -> None:
    """Raise IndicatorError when `whole` (the indicator on all of `frame`) changes at some bar
    once the bars after a cut are removed.

    A cut too short for pandas-ta (its minimum number of bars can exceed the first bar with a
    value) is passed over. When no cut can be computed, only the last bar may have values."""
    bars = len(frame)
    if bars < 2:
        return  # one bar: nothing after it to look at
    cuts = cut_points(bars, first_value_index(whole))
    compared = sum(_check_cut(frame, name, settings, whole, compute, cut) for cut in cuts)
    if not compared and cuts[-1] != bars - 1:
        compared = _check_cut(frame, name, settings, whole, compute, bars - 1)
    if not compared:
        # pandas-ta computes nothing on fewer bars than these: then no bar but the last may
        # have a value, since none of those values could have been computed when it closed.
        early = [column for column, values in whole.items() if (~np.isnan(values[:-1])).any()]
        if early:
            raise IndicatorError(
                f"{name}: refused, it has values before the last of the {bars} bars that it "
                "cannot compute on fewer bars, so it cannot be checked for look-ahead; "
                "use more data"
            )


def _check_cut(
    frame: pd.DataFrame,
    name: str,
    settings: Mapping[str, IndicatorArg],
    whole: Mapping[str, FloatArray],
    compute: Compute,
    cut: int,
) -> int:
    """1 when the first `cut` bars were recomputed and agree, 0 when pandas-ta needs more bars
    than that; IndicatorError when they disagree."""
    try:
        prefix = compute(frame.iloc[:cut], name, settings)
    except IndicatorError:
        return 0
    _compare(name, cut, prefix, whole)
    return 1


def _compare(
    name: str, cut: int, prefix: Mapping[str, FloatArray], whole: Mapping[str, FloatArray]
) -> None:
    """A column pandas-ta leaves out of a short prefix counts as all NaN there; a column the
    prefix has and the whole data lacks is a mismatch."""
    extra = sorted(set(prefix) - set(whole))
    if extra:
        raise IndicatorError(
            f"{name}: refused, its columns change when later bars are added "
            f"({', '.join(extra)} on the first {cut} bars only), so it looks ahead"
        )
    for column, values in whole.items():
        seen = prefix.get(column)
        if seen is None:
            seen = np.full(cut, np.nan)
        bad = np.flatnonzero(mismatched_bars(seen, values[:cut]))
        if len(bad):
            raise IndicatorError(
                f"{name}: refused, its value at bar {int(bad[0])} changes when later bars "
                "are added, so it looks ahead"
            )
