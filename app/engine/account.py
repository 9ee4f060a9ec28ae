"""The account of a run over several symbols (or of one symbol in cross margin): one wallet
(the cash), and a broker per symbol with its own position, isolated margin, tier table,
funding and mark price, all stepped on one shared timeline (app.engine.timeline). With
`margin_mode="cross"` the wallet backs every position instead (app.engine.cross_margin).

Order of events inside bar t: each symbol's broker processes the bar in the order the symbols
were given (the primary first), each in its own order of events (app.engine.broker). The cash
is shared, so an order of a later symbol sees the cash the earlier symbols' fills left.
Order ids count up across all symbols; trades and ended orders are kept in one list each, in
the order they happened.

The loop drives it through the interface it drives a single Broker with: `next_work` (no
symbol needs a bar before it), `step(index)`, `mark`, `equity_at`, `close_out`, the record
lists and the account's totals.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from app.engine.broker import Broker
from app.engine.caps import RecordCounter
from app.engine.config import RunConfig, symbol_config
from app.engine.cross_margin import CrossMargin
from app.engine.events import Event
from app.engine.feed import MarketData
from app.engine.logbook import LogSink
from app.engine.orders import Order
from app.engine.results import EquityLedger
from app.engine.types import Mode, OrderRecord, Trade
from app.engine.wallet import Wallet


class SymbolAccount:
    """One cash balance and a broker per symbol; the portfolios change only through them."""

    def __init__(
        self,
        market: MarketData,
        config: RunConfig,
        log: LogSink,
        journal: list[Event] | None = None,
    ) -> None:
        self.market = market
        self.config = config
        self.wallet = Wallet(config.cash)
        self.records = RecordCounter(max_orders=config.max_orders, max_trades=config.max_trades)
        self.brokers: dict[str, Broker] = {}
        for symbol, symbol_market in market.by_symbol().items():
            self.brokers[symbol] = Broker(
                symbol_market,
                symbol_config(config, symbol),
                log,
                journal,
                wallet=self.wallet,
                records=self.records,
            )
        self.primary = self.brokers[market.symbol]
        self.portfolio = AccountTotals(self.brokers, self.wallet)
        self.cross = _cross_margin(config, self.brokers)
        self.trades: list[Trade] = self.primary.trades
        self.finished: list[OrderRecord] = self.primary.finished
        self._next_id = 1
        for broker in self.brokers.values():
            broker.next_order_id = self.next_order_id  # ids count up across every symbol
            broker.trades = self.trades
            broker.book.finished = self.finished
            broker.finished = self.finished

    def next_order_id(self) -> int:
        """A new order's id, unique across the account's symbols (refused requests too)."""
        order_id = self._next_id
        self.records.count_order(order_id)
        self._next_id += 1
        return order_id

    # -- the loop's interface ---------------------------------------------------------------

    @property
    def next_work(self) -> int:
        """The first bar some symbol's broker needs (bars before it are quiet for all)."""
        return min(broker.next_work for broker in self.brokers.values())

    def step(self, index: int) -> bool:
        """Each symbol's broker processes bar `index` if it needs it; True when any did.
        Cross margin: every position's liquidation price is set again before each broker
        steps (the others may have moved it), and after the bar from its closes."""
        if self.cross is not None:
            return self._step_cross(self.cross, index)
        acted = False
        for broker in self.brokers.values():
            if index >= broker.next_work and broker.step(index):
                acted = True
        return acted

    def _step_cross(self, cross: CrossMargin, index: int) -> bool:
        acted = False
        for broker in self.brokers.values():
            broker.refresh_triggers()  # another symbol's fill or liquidation may move them
            if index >= broker.next_work and broker.step(index):
                acted = True
        cross.mark_prices(
            {s: float(b.market.marked("close")[index]) for s, b in self.brokers.items()}
        )
        for broker in self.brokers.values():
            broker.refresh_triggers()
            if broker.portfolio.position.side != 0:  # its price moves with the others'
                broker.next_work = min(broker.next_work, index + 1)
        return acted

    @property
    def working(self) -> list[Order]:
        """Every symbol's working orders, by id."""
        orders = [order for broker in self.brokers.values() for order in broker.working]
        return sorted(orders, key=lambda order: order.id)

    def find(self, order_id: int) -> Broker | None:
        """The broker holding the working order `order_id`, or None."""
        for broker in self.brokers.values():
            if broker.book.find(order_id) is not None:
                return broker
        return None

    def mark(self, ledger: EquityLedger, index: int) -> None:
        """The account after bar `index`: the cash, the margin of every position, and each
        symbol's signed size and entry price (the curve marks each at its own close)."""
        positions = [broker.portfolio.position for broker in self.brokers.values()]
        ledger.mark(
            index,
            self.wallet.cash,
            math.fsum(position.margin for position in positions),
            positions[0].side * positions[0].size,
            positions[0].entry_price,
            tuple((p.side * p.size, p.entry_price) for p in positions[1:]),
        )

    def equity_at(self, index: int) -> float:
        """Cash + every position's margin and unrealised PnL at bar `index`'s close."""
        return self.wallet.cash + math.fsum(
            broker.portfolio.position.margin
            + broker.portfolio.position.unrealized(float(broker.market.close[index]))
            for broker in self.brokers.values()
        )

    def close_out(self, index: int) -> None:
        """End of data: every symbol's working orders expire, its position closes."""
        for broker in self.brokers.values():
            broker.close_out(index)


def _cross_margin(config: RunConfig, brokers: dict[str, Broker]) -> CrossMargin | None:
    """The account's cross margin (futures with margin_mode "cross"), valuing each position
    at its symbol's first mark open until a bar has closed; None for isolated margin."""
    if config.margin_mode != "cross" or config.mode is not Mode.FUTURES:
        return None
    cross = CrossMargin(
        {symbol: broker.portfolio for symbol, broker in brokers.items()},
        {symbol: float(broker.market.marked("open")[0]) for symbol, broker in brokers.items()},
    )
    for broker in brokers.values():
        broker.portfolio.cross = cross
    return cross


class AccountTotals:
    """The account's running totals over every symbol's portfolio (what a single broker's
    `portfolio` answers for one): cash, fees, funding and liquidations."""

    __slots__ = ("_brokers", "_wallet")

    def __init__(self, brokers: dict[str, Broker], wallet: Wallet) -> None:
        self._brokers = brokers
        self._wallet = wallet

    @property
    def cash(self) -> float:
        return self._wallet.cash

    @property
    def fees_paid(self) -> float:
        return math.fsum(broker.portfolio.fees_paid for broker in self._each())

    @property
    def funding_paid(self) -> float:
        return math.fsum(broker.portfolio.funding_paid for broker in self._each())

    @property
    def liquidations(self) -> int:
        return sum(broker.portfolio.liquidations for broker in self._each())

    def _each(self) -> Iterator[Broker]:
        return iter(self._brokers.values())


Exchange = Broker | SymbolAccount
"""What the bar loop steps: one symbol's broker, or the account of several."""
