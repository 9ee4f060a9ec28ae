"""The engine's domain vocabulary: enums and the records a run produces.

The records are named tuples: immutable, and a run makes tens of thousands of them, which a
frozen dataclass (one `object.__setattr__` per field) made about seven times slower. Their
fields can be transposed into columns without reading each attribute.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class Mode(StrEnum):
    """Market type: spot (no leverage, no shorts) or a USDT-margined linear perpetual."""

    SPOT = "spot"
    FUTURES = "futures"


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class TimeInForce(StrEnum):
    """How long an order works: until filled or cancelled (`gtc`), or only at its arrival, the
    next bar's open: `ioc` fills what it can there and cancels the rest, `fok` fills all of it
    there or nothing."""

    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"


class OrderStatus(StrEnum):
    """Where an order is in its life; it moves only through `app.engine.orders`' state table.

    INITIALIZED (made, not yet checked) -> PENDING (working) or DENIED (refused at placement);
    PENDING -> FILLED, CANCELLED, REJECTED (refused at its fill) or EXPIRED (the data ended).
    """

    PENDING = "pending"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    INITIALIZED = "initialized"
    DENIED = "denied"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class ExitReason(StrEnum):
    SIGNAL = "signal"
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"
    LIQUIDATION = "liquidation"
    END_OF_DATA = "end_of_data"


class Severity(StrEnum):
    """How bad a finding in user input is, everywhere it is reported (a strategy's diagnostics,
    a dataset's problems): an error stops what was asked (the run, the import); a warning is
    shown and allowed. Defined here, in the pure core, so the sandbox and the data layer share it.
    """

    ERROR = "error"
    WARNING = "warning"


class LogLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"


class Trade(NamedTuple):
    """One closed slice of a position; a partial close is its own trade.

    `pnl` is net of `fees` (the entry fees for this slice plus the exit fee, or for a liquidation
    the clearance fee: the margin left at the liquidation price). Funding is not in `pnl`: it is
    settled against the position's margin and reported as funding paid. `margin` is the slice's
    share of the margin put up at entry (before funding moved it; the whole notional in spot),
    so its leverage is size x entry price / margin and its return on margin pnl / margin.
    """

    entry_time: int  # epoch nanoseconds, UTC
    exit_time: int
    entry_index: int
    exit_index: int
    side: PositionSide
    size: float  # base units
    entry_price: float
    exit_price: float
    pnl: float  # quote units, net of fees
    fees: float
    exit_reason: ExitReason
    margin: float = 0.0  # quote units; 0.0 in records made before margins were kept
    symbol: str = ""  # the traded symbol ("" in records made before runs had several)


class OrderRecord(NamedTuple):
    """The final state of one order the strategy placed (or a protective exit the engine made)."""

    id: int
    created_time: int
    created_index: int
    side: OrderSide
    type: OrderType
    amount: float  # base units; a filled close_position order's: what it closed (else 0)
    limit_price: float | None
    stop_price: float | None
    leverage: float
    stop_loss: float | None
    take_profit: float | None
    status: OrderStatus
    filled_time: int | None
    filled_price: float | None
    filled_amount: float
    fee: float
    reason: str  # why it was denied/rejected/cancelled/expired, or what it was for
    symbol: str = ""  # the symbol it trades ("" in records made before runs had several)


class LogLine(NamedTuple):
    time: int
    bar_index: int
    level: LogLevel
    message: str
