"""Exceptions of the research package, grouped by what the caller does next."""

from __future__ import annotations


class ResearchInputError(ValueError):
    """A sweep request is unusable as given: the caller fixes `field` and asks again.

    `field` names the input (`param`, `method`, `objective`, `trials`, `min_trades`,
    `max_drawdown`, `resume`, ...; the CLI turns it into its flag, the API into the field of
    its 422 answer); `message` is one sentence saying what is wrong and what to do. Raised
    before any trial runs.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


__all__ = ["ResearchInputError"]
