"""Fetching one symbol's leverage tiers from an exchange through ccxt, as a dated TierTable with
its source, to be stored like an imported one (`strategylab data tiers fetch`).

ccxt's `fetch_market_leverage_tiers(symbol)` where the exchange has it natively, else
`fetch_leverage_tiers([symbol])` (`exchange.has` says which). Some exchanges publish their tiers
on a public endpoint; others (Binance's `/fapi/v1/leverageBracket`) only to a signed request:
the key comes from the settings (STRATEGYLAB_EXCHANGE_API_KEY, _SECRET, _PASSWORD), goes into
the ccxt client's config and nowhere else: never into a message, a log line or the table. A
table fetched today is dated today (UTC): the exchange's brackets as they were when fetched.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol

from app.data.errors import FetchError
from app.data.store import normalise_symbol
from app.data.tiers import convert_exchange_tiers
from app.engine.tiers import TierTable

logger = logging.getLogger(__name__)

KEY_VARIABLE: Final = "STRATEGYLAB_EXCHANGE_API_KEY"
SECRET_VARIABLE: Final = "STRATEGYLAB_EXCHANGE_API_SECRET"
TABLE_EXCHANGES: Final[dict[str, str]] = {
    "binance": "binance-usdtm",
    "binanceusdm": "binance-usdtm",
}
"""The table name of an exchange's USDT-margined contracts where Strategy Lab ships tables
(app/data/tier_tables/binance-usdtm), so a fetched table and the shipped ones share a name."""


class TierExchange(Protocol):
    """The part of a ccxt exchange the tier fetch uses."""

    id: str
    has: Mapping[str, Any]

    def load_markets(self, reload: bool = ..., params: dict[str, Any] = ...) -> Any: ...

    def market(self, symbol: str) -> Any: ...

    def fetch_leverage_tiers(
        self, symbols: list[str] | None = ..., params: dict[str, Any] = ...
    ) -> Any: ...

    def fetch_market_leverage_tiers(self, symbol: str, params: dict[str, Any] = ...) -> Any: ...


@dataclass(frozen=True, slots=True)
class ExchangeCredentials:
    """An API key, its secret and passphrase (any may be None); hidden from repr."""

    api_key: str | None = field(default=None, repr=False)
    secret: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def is_set(self) -> bool:
        return bool(self.api_key)

    def ccxt_config(self) -> dict[str, str]:
        """The ccxt client config keys for the parts that are set."""
        parts = {"apiKey": self.api_key, "secret": self.secret, "password": self.password}
        return {name: value for name, value in parts.items() if value}


def make_tier_exchange(exchange_id: str, credentials: ExchangeCredentials) -> TierExchange:
    """A rate-limited ccxt client of `exchange_id`'s futures (swap) markets, signed with
    `credentials` when they are set (needs the `fetch` extra)."""
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError as exc:
        message = "fetching needs ccxt; install it with `pip install 'strategylab[fetch]'`."
        raise FetchError(message) from exc
    exchange_class = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
    if exchange_class is None:
        raise FetchError(f"ccxt has no exchange '{exchange_id}'; see ccxt's list of exchanges.")
    # currencies are not needed (Binance would ask its wallet endpoint for them with a key)
    config = {"enableRateLimit": True, "options": {"defaultType": "swap", "fetchCurrencies": False}}
    exchange: TierExchange = exchange_class({**config, **credentials.ccxt_config()})
    return exchange


def fetch_tier_table(
    exchange: TierExchange,
    symbol: str,
    *,
    credentials: ExchangeCredentials,
    fetched_at: datetime,
    table_exchange: str | None = None,
) -> TierTable:
    """`symbol`'s leverage tiers from `exchange` as a checked TierTable dated `fetched_at`'s
    day (UTC), its source naming the exchange, the ccxt call and version, and the moment.

    Raises FetchError with one sentence: an unknown or non-futures symbol, an exchange that
    publishes no tiers through ccxt, missing or refused credentials (naming the variables to
    set), an exchange that did not answer; ConfigError("tiers") when the figures are not a
    consistent table.
    """
    ccxt = importlib.import_module("ccxt")
    market = _market(exchange, symbol, ccxt)
    unified = str(market["symbol"])
    method, raw = _tiers(exchange, unified, ccxt, credentials)
    if not raw:
        raise FetchError(f"{exchange.id} returned no leverage tiers for {unified}.")
    utc = fetched_at.astimezone(UTC)  # a naive moment is taken as local time, as Python does
    moment = utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    name = table_exchange or TABLE_EXCHANGES.get(exchange.id, exchange.id)
    table = convert_exchange_tiers(
        raw,
        symbol=normalise_symbol(unified),
        exchange=name,
        snapshot_date=utc.date().isoformat(),
        source=f"ccxt {ccxt.__version__} {exchange.id}.{method}({unified!r}), fetched {moment}",
    )
    logger.info("fetched tier table name=%s brackets=%d", table.name, len(table.tiers))
    return table


def _market(exchange: TierExchange, symbol: str, ccxt: Any) -> Mapping[str, Any]:
    try:
        exchange.load_markets()
        market: Mapping[str, Any] = exchange.market(symbol)
    except ccxt.BadSymbol:
        raise FetchError(
            f"{exchange.id} has no market {symbol!r}; give its symbol as ccxt spells a "
            "perpetual, e.g. BTC/USDT:USDT."
        ) from None
    except (ccxt.BaseError, OSError) as error:
        raise FetchError(
            f"{exchange.id} did not deliver its markets ({type(error).__name__}); try again."
        ) from None
    if not market.get("contract"):
        raise FetchError(
            f"{symbol} on {exchange.id} is a spot market; leverage tiers belong to futures: "
            "give the perpetual, e.g. BTC/USDT:USDT."
        )
    return market


def _tiers(
    exchange: TierExchange, unified: str, ccxt: Any, credentials: ExchangeCredentials
) -> tuple[str, Sequence[Any] | None]:
    """Which ccxt call was made and the tiers it returned for `unified`."""
    has = exchange.has
    try:
        if has.get("fetchMarketLeverageTiers") is True:
            method = "fetch_market_leverage_tiers"
            return method, exchange.fetch_market_leverage_tiers(unified)
        if has.get("fetchLeverageTiers"):
            method = "fetch_leverage_tiers"
            answer = exchange.fetch_leverage_tiers([unified])
            return method, answer.get(unified) if isinstance(answer, Mapping) else None
    except ccxt.AuthenticationError:
        raise FetchError(_credentials_sentence(exchange.id, credentials)) from None
    except (ccxt.BaseError, OSError) as error:
        raise FetchError(
            f"{exchange.id} did not deliver the leverage tiers of {unified} "
            f"({type(error).__name__}); try again."
        ) from None
    raise FetchError(
        f"{exchange.id} publishes no leverage tiers through ccxt; save them as JSON and import "
        "them with `strategylab data tiers import FILE --symbol SYMBOL --snapshot-date DAY`."
    )


def _credentials_sentence(exchange_id: str, credentials: ExchangeCredentials) -> str:
    """What to do when the exchange (or ccxt, before sending) wants other credentials; never
    shows them."""
    if not credentials.is_set:
        return (
            f"{exchange_id} gives its leverage tiers only to a signed request: set "
            f"{KEY_VARIABLE} and {SECRET_VARIABLE} (a read-only API key is enough; they are "
            "read from the environment, never printed or stored) and run the fetch again."
        )
    if not credentials.secret:
        return f"{KEY_VARIABLE} is set but {SECRET_VARIABLE} is not: {exchange_id} needs both."
    return (
        f"{exchange_id} refused the API key in {KEY_VARIABLE}; check the key, its secret "
        f"({SECRET_VARIABLE}) and that it may read futures account data."
    )


__all__ = [
    "ExchangeCredentials",
    "TierExchange",
    "fetch_tier_table",
    "make_tier_exchange",
]
