"""The trusted parent's side of indicator sharing across a sweep's trials: an indicator request
from a trial's worker is checked as a run checks it, computed once per distinct setting on the
sweep's bars, and answered with a copy of the values.

Why a child cannot poison what other trials see:
- The parent never trusts the request. Name, timeframe and settings go through the engine's
  own path (`plain_name`, `plain_settings`, `check_settings`: the allow-list of settings with
  their types and ranges, the look-ahead refusals), then `compute_indicator` (which repeats
  that path and runs the repaint check) on the parent's own copy of the bars. A request that
  fails anywhere gets a one-sentence refusal, never an exception in the parent.
- The values are computed from the parent's data, never from anything the worker sent, and
  stored read-only; a worker receives them as bytes over its pipe, so whatever it does to its
  copy stays in its own process.
- What one trial can make the parent do is bounded: at most MAX_REQUESTS_PER_RUN requests per
  trial (sandbox.supervisor), each bounded by the allow-list's MAX_PERIOD, and the cache holds
  at most `max_cached_bytes` (oldest settings dropped first; they are recomputed if asked
  again).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from app.deferred_imports import deferred
from app.engine import MarketData
from app.engine.errors import IndicatorError
from app.engine.feed import FloatArray
from app.engine.indicator_settings import check_settings, plain_name, plain_settings
from app.engine.indicators import IndicatorArg, compute_indicator, load_indicator_libraries
from app.engine.timeframes import timeframe_market
from sandbox.text import MAX_NAME_CHARS, clean_text

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = deferred("pandas")

logger = logging.getLogger(__name__)

MAX_REFUSAL_CHARS: Final = 2_000
DEFAULT_MAX_CACHED_BYTES: Final = 768 * 1024 * 1024
"""Cache bound of a sweep: ~180 distinct single-column settings of 525,600 bars."""

MAX_TIMEFRAMES: Final = 16
"""Distinct bar lengths whose frames are kept (a rule's bars are rebuilt beyond that)."""

_PROCESS_COMPUTE_LOCK: Final = threading.Lock()
"""Held while any SharedIndicators computes: pandas-ta's computation swaps the process-wide
sys.stdout (the engine silences its notes with redirect_stdout), and two threads doing that at
once can leave the swap in place for good (the CLI's output vanished). One computation at a
time per process; cache hits, the common case, never take it."""

Columns = dict[str, FloatArray]
SettingsKey = tuple[str, str | None, tuple[tuple[str, str, IndicatorArg], ...]]


def settings_key(name: str, rule: str | None, args: Mapping[str, IndicatorArg]) -> SettingsKey:
    """The identity of one indicator setting, as the run's context caches it: the type is part
    of the key (3 and 3.0 are equal but name pandas-ta's columns apart)."""
    return (
        name,
        rule,
        tuple((key, type(value).__name__, value) for key, value in sorted(args.items())),
    )


class SharedIndicators:
    """The indicators of one sweep's bars (`market`, already cut at the run's end), computed
    once per distinct setting and shared by every trial; safe to use from several threads.

    `computations` counts the settings computed (refused ones included), so a sweep whose
    trials ask for K distinct settings computes K while they fit in the cache.
    """

    def __init__(
        self, market: MarketData, *, max_cached_bytes: int = DEFAULT_MAX_CACHED_BYTES
    ) -> None:
        self._market = market
        self._max_cached_bytes = max_cached_bytes
        self._lock = threading.Lock()
        self._cache: OrderedDict[SettingsKey, Columns | str] = OrderedDict()
        self._cached_bytes = 0
        self._computing: dict[SettingsKey, threading.Lock] = {}
        self._frames: dict[int, pd.DataFrame] = {}  # by bar length in ns; 0: the run's bars
        self._computations = 0

    @property
    def computations(self) -> int:
        """Indicator settings computed so far (each distinct one once while it stays cached)."""
        with self._lock:
            return self._computations

    def prepare(self) -> None:
        """Load the indicator libraries (pandas-ta, the fast kernels) ahead of the first
        request: seconds once per process, better spent while the workers start."""
        load_indicator_libraries()

    def answer(self, request: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, FloatArray]]:
        """The reply to one untrusted `indicator` request from a worker: its values
        (`indicator_values`, one array per column, in order) or a refusal with one sentence
        (`indicator_refused`). Never raises for anything the request holds."""
        try:
            name, rule, args = _checked_request(request)
            columns = self.columns(name, rule, args)
        except IndicatorError as error:
            return refusal(str(error)), {}
        except Exception as error:  # a hostile value deep in a check: refused, logged once
            logger.warning("indicator request refused: %s: %s", type(error).__name__, error)
            return refusal("the indicator request could not be read"), {}
        return {"type": "indicator_values", "columns": list(columns)}, columns

    def columns(self, name: str, rule: str | None, args: Mapping[str, IndicatorArg]) -> Columns:
        """The columns of the checked setting (`name`, timeframe `rule`, `args`), computed now
        unless cached; IndicatorError (cached too) when it cannot be computed."""
        key = settings_key(name, rule, args)
        with self._lock:
            found = self._cached(key)
            if found is None:
                gate = self._computing.setdefault(key, threading.Lock())
        if found is None:
            with gate:  # one computation per setting, however many trials ask at once
                with self._lock:
                    found = self._cached(key)
                if found is None:
                    found = self._compute(name, rule, args)
                    with self._lock:
                        self._computations += 1
                        self._store(key, found)
                        self._computing.pop(key, None)
        if isinstance(found, str):
            raise IndicatorError(found)
        return found

    def _cached(self, key: SettingsKey) -> Columns | str | None:
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
        return found

    def _store(self, key: SettingsKey, value: Columns | str) -> None:
        size = _size(value)
        if size > self._max_cached_bytes:
            return
        self._cache[key] = value
        self._cached_bytes += size
        while self._cached_bytes > self._max_cached_bytes:
            _, dropped = self._cache.popitem(last=False)
            self._cached_bytes -= _size(dropped)

    def _compute(
        self, name: str, rule: str | None, args: Mapping[str, IndicatorArg]
    ) -> Columns | str:
        try:
            with _PROCESS_COMPUTE_LOCK:
                columns = compute_indicator(self._frame(rule), name, dict(args))
        except IndicatorError as error:
            return str(error)
        except Exception as error:  # pandas-ta on a setting the allow-list let through
            logger.warning("indicator %s could not be computed: %s", name, error)
            return f"{name} could not be computed: {type(error).__name__}"
        return {column: _read_only(values) for column, values in columns.items()}

    def _frame(self, rule: str | None) -> pd.DataFrame:
        """The bars an indicator is computed on: the run's, or those of timeframe `rule`
        (IndicatorError, in the run's own words, for a rule the run would refuse)."""
        if rule is None:
            market, step_ns = self._market, 0
        else:
            market, step_ns = timeframe_market(rule, self._market)
        with self._lock:
            frame = self._frames.get(step_ns)
        if frame is None:
            frame = market.to_frame()
            with self._lock:
                if len(self._frames) < MAX_TIMEFRAMES:
                    frame = self._frames.setdefault(step_ns, frame)
        return frame


def refusal(message: str) -> dict[str, Any]:
    """An `indicator_refused` reply carrying one cleaned sentence."""
    return {"type": "indicator_refused", "message": clean_text(message, MAX_REFUSAL_CHARS)}


def _checked_request(request: Mapping[str, Any]) -> tuple[str, str | None, dict[str, IndicatorArg]]:
    """Name, timeframe and settings of a request, through the engine's own checks."""
    name = plain_name(request.get("name"))
    rule = request.get("timeframe")
    if rule is not None and (type(rule) is not str or len(rule) > MAX_NAME_CHARS):
        raise IndicatorError("timeframe must be a string such as '4h'")
    settings = request.get("settings")
    if not isinstance(settings, dict):
        raise IndicatorError(f"{name}: settings must be keyword arguments")
    return name, rule, check_settings(name, plain_settings(name, settings))


def _read_only(values: npt.NDArray[Any]) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.flags.writeable:
        array = array.copy()
        array.setflags(write=False)
    return array


def _size(value: Columns | str) -> int:
    return len(value) if isinstance(value, str) else sum(v.nbytes for v in value.values())


__all__ = ["SharedIndicators", "refusal", "settings_key"]
