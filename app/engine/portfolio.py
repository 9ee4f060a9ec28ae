"""The account: cash, one isolated position per run, and the arithmetic of fills on them.

Identity kept after every operation: equity = cash + margin + unrealised PnL, where `margin` is
the position's isolated margin (in spot mode, its cost basis: spot is a long-only position at
leverage 1 that is never liquidated). Losses on a liquidated position are capped at its margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.engine.config import RunConfig
from app.engine.cross_margin import CrossMargin
from app.engine.events import Refusal, RejectReason
from app.engine.margin import TierBrackets, margin_ratio
from app.engine.order_requests import spot_oversell_message
from app.engine.tiers import check_position_limits
from app.engine.types import ExitReason, Mode, PositionSide, Trade
from app.engine.wallet import Wallet

SIZE_EPSILON = 1e-12
_LONG, _SHORT = PositionSide.LONG, PositionSide.SHORT
_new_tuple = tuple.__new__  # a named tuple built without its generated Python constructor


@dataclass(slots=True)
class Position:
    """The open position (side 0 when flat). Engine-owned and mutable; strategies see snapshots."""

    side: int = 0  # +1 long, -1 short, 0 flat
    size: float = 0.0  # absolute base units
    entry_price: float = 0.0  # size-weighted average
    margin: float = 0.0  # isolated margin, quote units
    initial_margin: float = 0.0  # the margin put up at entry (funding does not move it)
    open_fees: float = 0.0  # entry fees not yet attributed to a closed trade
    entry_time: int = 0
    entry_index: int = 0
    liquidation_price: float = 0.0  # 0.0 when it cannot be liquidated
    stop_loss: float | None = None
    take_profit: float | None = None
    # a trailing stop (set by the broker, app.engine.exits.trailing_level): a distance in
    # quote price units or a percent, behind the best price the path reached since it was set
    trailing_stop: float | None = None
    trailing_percent: float | None = None
    best_price: float = 0.0
    # liquidation is watched on the data's mark price by the broker (app.engine.liquidation),
    # so the traded path's exits leave it out
    is_marked: bool = False

    def unrealized(self, price: float) -> float:
        return self.side * self.size * (price - self.entry_price)


def clearance_fee(position: Position) -> float:
    """What a liquidation at `position`'s liquidation price takes as its fee (quote units): the
    margin left at that price, which goes to the insurance fund as on Binance ("liquidation
    clearance fee", Binance Futures FAQ: Liquidation); never negative."""
    price_pnl = position.side * position.size * (position.liquidation_price - position.entry_price)
    return max(position.margin + price_pnl, 0.0)


@dataclass(slots=True)
class FillResult:
    """What a fill did: the trade it closed (a fill closes at most one position, the one it
    is against), the amount it executed, and a refusal if any."""

    trade: Trade | None
    filled: float
    fee: float
    denied: Refusal | None = None


class Portfolio:
    """Cash and the position; every change of either goes through these methods."""

    def __init__(
        self,
        config: RunConfig,
        *,
        is_marked: bool = False,
        symbol: str = "",
        wallet: Wallet | None = None,
    ) -> None:
        """`is_marked`: the market has a mark-price series, which liquidates positions.
        `symbol` is written on the trades; `wallet` holds the cash, shared with the other
        symbols' portfolios of a run over several (app.engine.account; default: its own)."""
        self.config = config
        self._brackets = TierBrackets(config.margin_tiers)  # the run's tiers, bisected per fill
        self.wallet = wallet if wallet is not None else Wallet(config.cash)
        self.symbol = symbol
        self.is_marked = is_marked
        # cross margin: the account's arithmetic over every symbol's portfolio (None: isolated)
        self.cross: CrossMargin | None = None
        self.position = Position(is_marked=is_marked)
        self.fees_paid = 0.0
        self.funding_paid = 0.0
        self.liquidations = 0

    @property
    def cash(self) -> float:
        """Free cash in quote units (the wallet's, shared by every symbol of the account)."""
        return self.wallet.cash

    @cash.setter
    def cash(self, value: float) -> None:
        self.wallet.cash = value

    # -- reading ----------------------------------------------------------------------------

    def equity(self, price: float) -> float:
        return self.cash + self.position.margin + self.position.unrealized(price)

    def margin_ratio(self, price: float) -> float:
        position = self.position
        if position.side == 0 or self.config.mode is Mode.SPOT:
            return 0.0
        if self.cross is not None:
            return self.cross.margin_ratio(self, price)
        return margin_ratio(
            position.size * price,
            position.margin,
            position.unrealized(price),
            self.config.margin_tiers,
        )

    # -- fills ------------------------------------------------------------------------------

    def fill(
        self,
        direction: int,
        amount: float,
        price: float,
        fee_rate: float,
        leverage: float,
        time: int,
        index: int,
        reason: ExitReason,
    ) -> FillResult:
        """Execute `amount` base units in `direction` (+1 buy, -1 sell) at `price`.

        An order against the position closes it first (a trade row per close, `reason` as its
        exit reason); what remains opens or adds to a position at `leverage`. A refusal
        (margin, spot short, tier leverage) leaves the account untouched for the refused part.
        """
        position = self.position
        trade: Trade | None = None
        filled = 0.0
        fee = 0.0
        remaining = amount
        if position.side == -direction:
            if self.config.mode is Mode.SPOT and remaining > position.size * (1 + 1e-9):
                return FillResult(None, 0.0, 0.0, self._spot_oversell(remaining))
            closed = min(remaining, position.size)
            trade, close_fee = self._reduce(closed, price, fee_rate, time, index, reason)
            filled += closed
            fee += close_fee
            remaining -= closed
        if remaining <= SIZE_EPSILON * max(amount, 1.0):
            if trade is None:  # nothing closed and nothing to open: refuse, don't mark it filled
                return FillResult(None, 0.0, 0.0, self._below_minimum(amount))
            return FillResult(trade, filled, fee)
        if self.config.mode is Mode.SPOT and direction < 0:
            return FillResult(trade, filled, fee, self._spot_oversell(remaining))
        denied = self._check_increase(direction, remaining, price, fee_rate, leverage)
        if denied is not None:
            return FillResult(trade, filled, fee, denied)
        fee += self._increase(direction, remaining, price, fee_rate, leverage, time, index)
        return FillResult(trade, filled + remaining, fee)

    @staticmethod
    def _below_minimum(amount: float) -> Refusal:
        return Refusal(
            RejectReason.BELOW_MINIMUM_SIZE,
            f"amount {amount:g} is below the smallest size the engine fills ({SIZE_EPSILON:g})",
        )

    def _spot_oversell(self, amount: float) -> Refusal:
        held = self.position.size if self.position.side > 0 else 0.0
        return Refusal(RejectReason.SPOT_CANNOT_SHORT, spot_oversell_message(amount, held))

    def _check_increase(
        self, direction: int, amount: float, price: float, fee_rate: float, leverage: float
    ) -> Refusal | None:
        position = self.position
        notional = amount * price
        margin = notional / leverage
        fee = notional * fee_rate
        cash = self.wallet.cash
        if margin + fee > cash * (1 + 1e-12):
            return Refusal(
                RejectReason.INSUFFICIENT_CASH,
                f"not enough cash: needs {margin + fee:,.2f} (margin {margin:,.2f} + fee "
                f"{fee:,.2f}), {max(cash, 0.0):,.2f} available",
            )
        if self.config.mode is Mode.FUTURES:
            total_notional = (position.size if position.side == direction else 0.0) * price
            total_notional += notional
            config = self.config
            return check_position_limits(
                leverage,
                total_notional,
                config.margin_tiers,
                config.tier_notional_cap,
                config.tier_table,
            )
        return None

    def _increase(
        self,
        direction: int,
        amount: float,
        price: float,
        fee_rate: float,
        leverage: float,
        time: int,
        index: int,
    ) -> float:
        position = self.position
        notional = amount * price
        margin = notional / leverage
        fee = notional * fee_rate
        if position.side == 0:
            position.side = direction
            position.entry_time = time
            position.entry_index = index
        new_size = position.size + amount
        position.entry_price = (position.size * position.entry_price + notional) / new_size
        position.size = new_size
        position.margin += margin
        position.initial_margin += margin
        position.open_fees += fee
        self.wallet.cash -= margin + fee  # the wallet itself: no property on the hot path
        self.fees_paid += fee
        self._refresh_liquidation_price()
        return fee

    def _reduce(
        self,
        amount: float,
        price: float,
        fee_rate: float,
        time: int,
        index: int,
        reason: ExitReason,
    ) -> tuple[Trade, float]:
        position = self.position
        fraction = amount / position.size
        released = position.margin * fraction
        initial_margin = position.initial_margin * fraction
        entry_fees = position.open_fees * fraction
        price_pnl = position.side * amount * (price - position.entry_price)
        fee = amount * price * fee_rate
        trade = _new_tuple(  # Trade(...) without its generated constructor: the hot path
            Trade,
            (  # every field, in Trade's order
                position.entry_time,
                time,
                position.entry_index,
                index,
                _LONG if position.side > 0 else _SHORT,
                amount,
                position.entry_price,
                price,
                price_pnl - entry_fees - fee,
                entry_fees + fee,
                reason,
                initial_margin,
                self.symbol,
            ),
        )
        self.wallet.cash += released + price_pnl - fee
        self.fees_paid += fee
        if fraction >= 1.0 - 1e-12:
            self.position = Position(is_marked=self.is_marked)
            if self.cross is not None:  # the wallet moved: the other positions' prices too
                self.cross.refresh()
        else:
            position.size -= amount
            position.margin -= released
            position.initial_margin -= initial_margin
            position.open_fees -= entry_fees
            self._refresh_liquidation_price()
        return trade, fee

    def liquidate(self, time: int, index: int) -> Trade:
        """Close the whole position at its liquidation price, losing its isolated margin.

        As on Binance, what is left of the margin at the liquidation price goes to the
        insurance fund (the clearance fee), so the trade's loss is the margin plus entry fees.
        """
        if self.cross is not None:
            return self._liquidate_cross(self.cross, time, index)
        position = self.position
        clearance = clearance_fee(position)
        trade = self._liquidation_trade(
            time, index, -position.margin - position.open_fees, clearance
        )
        self.fees_paid += clearance
        self.liquidations += 1
        self.position = Position(is_marked=self.is_marked)
        return trade

    def liquidation_fee(self) -> float:
        """The clearance fee liquidating the position at its liquidation price would take."""
        if self.cross is not None:
            return self.cross.clearance_fee(self)
        return clearance_fee(self.position)

    def _liquidate_cross(self, cross: CrossMargin, time: int, index: int) -> Trade:
        """Cross margin: close the whole position at its liquidation price; its maintenance
        margin there is the clearance fee, and a price loss beyond its margin is paid from the
        shared wallet (app.engine.cross_margin)."""
        position = self.position
        clearance = cross.clearance_fee(self)
        price_pnl = position.unrealized(position.liquidation_price)
        trade = self._liquidation_trade(
            time, index, price_pnl - position.open_fees - clearance, clearance
        )
        self.cash += position.margin + price_pnl - clearance
        self.fees_paid += clearance
        self.liquidations += 1
        self.position = Position(is_marked=self.is_marked)
        cross.refresh()
        return trade

    def _liquidation_trade(self, time: int, index: int, pnl: float, clearance: float) -> Trade:
        """The trade a liquidation at the position's liquidation price closes: `pnl` net of
        its fees (the entry fees and the `clearance` fee)."""
        position = self.position
        return Trade(
            entry_time=position.entry_time,
            exit_time=time,
            entry_index=position.entry_index,
            exit_index=index,
            side=PositionSide.LONG if position.side > 0 else PositionSide.SHORT,
            size=position.size,
            entry_price=position.entry_price,
            exit_price=position.liquidation_price,
            pnl=pnl,
            fees=position.open_fees + clearance,
            exit_reason=ExitReason.LIQUIDATION,
            margin=position.initial_margin,
            symbol=self.symbol,
        )

    def settle_funding(self, rate: float, mark_price: float) -> float:
        """Funding on the open futures position at a funding time; returns what it paid.

        payment = size x mark price x rate; longs pay shorts when the rate is positive. It is
        settled against the position's isolated margin (as Binance does in isolated mode), so it
        moves the liquidation price.
        """
        position = self.position
        if position.side == 0 or self.config.mode is Mode.SPOT or rate == 0.0:
            return 0.0
        payment = position.side * position.size * mark_price * rate
        position.margin -= payment
        self.funding_paid += payment
        self._refresh_liquidation_price()
        return payment

    def _refresh_liquidation_price(self) -> None:
        position = self.position
        if self.config.mode is Mode.SPOT or position.side == 0:
            position.liquidation_price = 0.0
            if self.cross is not None:  # the wallet moved: every other position's price too
                self.cross.refresh()
            return
        if self.cross is not None:
            self.cross.refresh()
            return
        position.liquidation_price = self._brackets.liquidation_price(
            position.side, position.size, position.entry_price, position.margin
        )
