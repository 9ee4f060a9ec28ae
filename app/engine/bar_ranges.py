"""Where in the data a price level can be reached: per-block extremes of the bars' ranges.

The broker needs to know which bars could touch an open position's liquidation, stop-loss or
take-profit price. Checking every bar costs a comparison per bar; the lowest low and highest
high of each block of BLOCK bars answer "can anything in this block reach it?" once per block.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from app.engine.feed import FloatArray

BLOCK: Final = 64
LOOKAHEAD_BLOCKS: Final = 16  # bounds one call's work; the caller asks again from its answer


class BlockRanges:
    """The lowest low and highest high of each block of BLOCK consecutive bars."""

    __slots__ = ("_highs", "_lows")

    def __init__(self, low: FloatArray, high: FloatArray) -> None:
        blocks = -(-len(low) // BLOCK)
        pad = blocks * BLOCK - len(low)
        self._lows: list[float] = (
            np.concatenate([low, np.full(pad, np.inf)]).reshape(blocks, BLOCK).min(axis=1).tolist()
        )
        self._highs: list[float] = (
            np.concatenate([high, np.full(pad, -np.inf)])
            .reshape(blocks, BLOCK)
            .max(axis=1)
            .tolist()
        )

    def first_reaching(self, index: int, lower: float, upper: float, stop: int) -> int:
        """A bar from `index` on (at most `stop`) such that no bar in [index, result) has a low
        at or below `lower` or a high at or above `upper`.

        The answer is exact to the block: it is `index` when `index`'s own block may reach a
        level (the caller then checks bar by bar), else the first bar of the first block that
        may, looking at most LOOKAHEAD_BLOCKS blocks ahead. NaN extremes count as reaching.
        """
        lows, highs = self._lows, self._highs
        block = index // BLOCK
        last = min(len(lows), block + LOOKAHEAD_BLOCKS)
        while block < last and lows[block] > lower and highs[block] < upper:
            block += 1
        return min(max(index, block * BLOCK), stop)
