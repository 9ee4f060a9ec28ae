"""The account's one cash balance, shared by the portfolio of every symbol a run trades."""

from __future__ import annotations


class Wallet:
    """Free cash in quote units; each symbol's Portfolio moves it through its own fills."""

    __slots__ = ("cash",)

    def __init__(self, cash: float) -> None:
        self.cash = cash
