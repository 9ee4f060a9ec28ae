"""Fill numba's cache of pandas-ta's compiled kernels, once, outside the sandbox.

Several pandas-ta indicators run numba kernels compiled on first use (`cache=True`: saved in
`__pycache__` beside the package). A sandbox worker may write nowhere, so it can only *read*
that cache (see `worker.keep_numba_cache_read_only`): every kernel missing from it was compiled
again in every run that used it, up to seconds each (coppock, exhc, cdl_pattern, atrts, ...).
`scripts/setup` runs `strategylab warm-indicators` after installing the packages: a trusted
process computes every indicator once, so numba compiles and saves every kernel.
"""

from __future__ import annotations

import contextlib
import io
import time
import warnings
from collections.abc import Collection, Iterator
from dataclasses import dataclass

from numba.core import event

from app.engine import MarketData, indicator_names, look_ahead_reason
from app.engine.indicator_rules import ANY_ALLOWED, REQUIRED_SETTINGS, IndicatorArg
from app.engine.indicators import compute_indicator
from sandbox.worker import start_numba, warm_up_market

WARM_BARS = 500
# The value given for a setting that must be given with any allowed value: doji is the one
# candle pattern pandas-ta computes itself, with a numba kernel (the others are TA-Lib's C).
WARM_CHOICES: dict[tuple[str, str], IndicatorArg] = {("cdl_pattern", "name"): "doji"}


def warm_settings(name: str) -> dict[str, IndicatorArg]:
    """Defaults, except the settings an indicator must be given (REQUIRED_SETTINGS: dpo,
    ichimoku, cdl_pattern), which get their causal value, so those kernels are cached too."""
    required = REQUIRED_SETTINGS.get(name)
    if required is None:
        return {}
    setting, value = required[0][0]
    return {setting: WARM_CHOICES[(name, setting)] if value is ANY_ALLOWED else value}


@dataclass(frozen=True, slots=True)
class KernelCacheReport:
    indicators: int  # computed
    seconds: float
    failed: tuple[tuple[str, str], ...]  # (indicator, error) for those that raised
    compiled: tuple[str, ...] = ()  # kernels numba compiled, not found in its cache: "mod.func"


def fill_kernel_cache(
    market: MarketData | None = None, *, names: Collection[str] | None = None
) -> KernelCacheReport:
    """Compute every pandas-ta indicator (or those in `names`) with its defaults
    (`warm_settings`) on `market` (in-memory sine-wave bars by default), so numba compiles and
    caches every kernel they use. Indicators that look ahead whatever their settings are
    skipped (strategies cannot use them); one that raises is reported, not fatal. pandas-ta's
    printed notices (TA-Lib missing) are swallowed. pandas-ta's own sma kernel is compiled in
    any case: the engine computes `sma` with numpy, but the fork server loads that kernel when
    it starts numba (sandbox.worker.start_numba) and pandas-ta's indicators call it inside.
    The report names the kernels that had to be compiled: none when the cache held them all."""
    frame = (market or warm_up_market(WARM_BARS)).to_frame()
    chosen = [
        name
        for name in indicator_names()
        if (names is None or name in names) and look_ahead_reason(name, warm_settings(name)) is None
    ]
    failed: list[tuple[str, str]] = []
    started = time.perf_counter()
    with event.install_recorder("numba:compile") as compiles:
        for name in chosen:
            with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
                warnings.simplefilter("ignore")
                try:
                    compute_indicator(frame, name, warm_settings(name))
                except Exception as error:  # one indicator's trouble must not stop the others
                    failed.append((name, f"{type(error).__name__}: {error}"[:200]))
        start_numba()
    seconds = time.perf_counter() - started
    kernels = tuple(sorted(set(_library_kernels(compiles.buffer))))
    return KernelCacheReport(len(chosen), seconds, tuple(failed), kernels)


def _library_kernels(compiles: list[tuple[float, event.Event]]) -> Iterator[str]:
    """The indicator libraries' kernels among numba's compile events; numba's own helpers,
    compiled along with a kernel and never cached on their own, are left out."""
    for _, happened in compiles:
        function = getattr(happened.data.get("dispatcher"), "py_func", None)
        module = getattr(function, "__module__", "") or ""
        if happened.is_start and function is not None and not module.startswith("numba."):
            yield f"{module}.{function.__qualname__}"
