"""Read-only views of a run's records for strategy code: `self.trades` (the closed trades) and
`self.orders` (every order so far).

A view holds no copy: it reads the engine's own lists when asked, so it costs nothing per bar
and is always current. It hands out only immutable records (named tuples), never an engine
object, and has no method that changes anything; slices come back as tuples.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import overload

from app.engine.orders import Order
from app.engine.types import OrderRecord, Trade


class TradeHistory:
    """The closed trades, oldest first (`Trade` records; a partial close is its own trade).

    `len(self.trades)`, `self.trades[-1]`, `self.trades[-5:]` and `for t in self.trades` work
    like a tuple's."""

    __slots__ = ("_trades",)

    def __init__(self, trades: list[Trade]) -> None:
        self._trades = trades

    def __len__(self) -> int:
        return len(self._trades)

    @overload
    def __getitem__(self, index: int) -> Trade: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Trade, ...]: ...
    def __getitem__(self, index: int | slice) -> Trade | tuple[Trade, ...]:
        if isinstance(index, slice):
            return tuple(self._trades[index])
        return self._trades[index]

    def __iter__(self) -> Iterator[Trade]:
        return iter(tuple(self._trades))

    def __bool__(self) -> bool:
        return bool(self._trades)

    def __repr__(self) -> str:
        return f"<{len(self._trades)} closed trades>"


class OrderHistory:
    """Every order so far as `OrderRecord`s: the ended ones in the order they ended (filled,
    cancelled, rejected, denied, and the engine's own exit orders), then the working ones
    (status "pending") in the order placed. Indexing, slicing and iteration as a tuple's."""

    __slots__ = ("_finished", "_working")

    def __init__(self, finished: list[OrderRecord], working: list[Order]) -> None:
        self._finished = finished
        self._working = working

    def __len__(self) -> int:
        return len(self._finished) + len(self._working)

    @overload
    def __getitem__(self, index: int) -> OrderRecord: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[OrderRecord, ...]: ...
    def __getitem__(self, index: int | slice) -> OrderRecord | tuple[OrderRecord, ...]:
        if isinstance(index, slice):
            return self._all()[index]
        if type(index) is not int:
            raise TypeError(f"orders are indexed by whole numbers, not {type(index).__name__}")
        ended = len(self._finished)
        position = index + len(self) if index < 0 else index
        if not 0 <= position < len(self):
            raise IndexError("order index out of range")
        if position < ended:
            return self._finished[position]
        return self._working[position - ended].record()

    def __iter__(self) -> Iterator[OrderRecord]:
        return iter(self._all())

    def __bool__(self) -> bool:
        return len(self) > 0

    def __repr__(self) -> str:
        return f"<{len(self)} orders>"

    def _all(self) -> tuple[OrderRecord, ...]:
        return (*self._finished, *(order.record() for order in self._working))
