"""A local stand-in for Binance USDⓈ-M futures' REST API on 127.0.0.1: `exchangeInfo` with one
perpetual and the signed `leverageBracket`, in the shapes Binance answers with.

Real ccxt (`binanceusdm`) talks to it over HTTP, so the tier fetch is tested through ccxt's own
market parsing, request signing and tier parsing. The brackets are the shipped BTCUSDT table's
(app/data/tier_tables/binance-usdtm/BTCUSDT-2024-09-27.json), written as Binance writes them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt

from app.data.tiers import SHIPPED_DIR

SHIPPED = SHIPPED_DIR / "binance-usdtm" / "BTCUSDT-2024-09-27.json"

EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 1733011200000,
    "futuresType": "U_MARGINED",
    "rateLimits": [],
    "exchangeFilters": [],
    "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "pair": "BTCUSDT",
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": 1569398400000,
            "status": "TRADING",
            "maintMarginPercent": "2.5000",
            "requiredMarginPercent": "5.0000",
            "baseAsset": "BTC",
            "quoteAsset": "USDT",
            "marginAsset": "USDT",
            "pricePrecision": 2,
            "quantityPrecision": 3,
            "baseAssetPrecision": 8,
            "quotePrecision": 8,
            "underlyingType": "COIN",
            "underlyingSubType": ["PoW"],
            "triggerProtect": "0.0500",
            "liquidationFee": "0.012500",
            "marketTakeBound": "0.05",
            "maxMoveOrderLimit": 10000,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "556.80",
                    "maxPrice": "4529764",
                    "tickSize": "0.10",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.001",
                    "maxQty": "1000",
                    "stepSize": "0.001",
                },
                {
                    "filterType": "MARKET_LOT_SIZE",
                    "minQty": "0.001",
                    "maxQty": "120",
                    "stepSize": "0.001",
                },
                {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                {"filterType": "MIN_NOTIONAL", "notional": "100"},
            ],
            "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET"],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }
    ],
}


def leverage_brackets() -> list[dict[str, Any]]:
    """`GET /fapi/v1/leverageBracket`'s answer for BTCUSDT, from the shipped table."""
    document = json.loads(SHIPPED.read_text(encoding="utf-8"))
    brackets = [
        {
            "bracket": position,
            "initialLeverage": row["max_leverage"],
            "notionalCap": row["notional_cap"],
            "notionalFloor": row["notional_floor"],
            "maintMarginRatio": row["maintenance_rate"],
            "cum": float(row["maintenance_amount"]),
        }
        for position, row in enumerate(document["brackets"], start=1)
    ]
    return [{"symbol": "BTCUSDT", "brackets": brackets}]


@dataclass
class FakeBinanceFutures:
    """What the fake saw: each request's path and whether it carried a key and a signature."""

    accepted_key: str | None = None  # None: any key
    requests: list[tuple[str, bool, bool]] = field(default_factory=list)

    def answer(self, path: str, query: dict[str, list[str]], key: str | None) -> tuple[int, Any]:
        self.requests.append((path, key is not None, "signature" in query))
        if path == "/fapi/v1/exchangeInfo":
            return 200, EXCHANGE_INFO
        if path == "/fapi/v1/leverageBracket":
            is_refused = self.accepted_key is not None and key != self.accepted_key
            if key is None or "signature" not in query or is_refused:
                return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions."}
            return 200, leverage_brackets()
        return 404, {"code": -1, "msg": "not here"}


def _handler(fake: FakeBinanceFutures) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            status, body = fake.answer(
                url.path, parse_qs(url.query), self.headers.get("X-MBX-APIKEY")
            )
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


@contextmanager
def serve_futures(fake: FakeBinanceFutures) -> Iterator[str]:
    """Run the fake on 127.0.0.1; yields its `/fapi/v1` base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/fapi/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def point_at(client: ccxt.Exchange, base_url: str) -> ccxt.Exchange:
    """`client` with every fapi URL at the fake (no other host is reachable in tests)."""
    for name in list(client.urls["api"]):
        client.urls["api"][name] = base_url if name.startswith("fapi") else "http://127.0.0.1:9"
    client.enableRateLimit = False
    return client
