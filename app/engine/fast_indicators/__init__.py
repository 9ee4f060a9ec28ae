"""Fast numpy/numba versions of the pandas-ta indicators that are slow on long data, chosen
by the same names and settings and equal to pandas-ta's own output (pandas-ta stays the
reference: any setting a fast version does not cover is computed by pandas-ta itself)."""

from __future__ import annotations

from app.engine.fast_indicators.dispatch import compute_fast, fast_indicator_names

__all__ = ["compute_fast", "fast_indicator_names"]
