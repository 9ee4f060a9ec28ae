"""A local stand-in for Binance's public REST API (exchangeInfo and klines) on 127.0.0.1.

Real ccxt talks to it over HTTP, so the fetch is tested through ccxt's own request building,
pagination parameters and response parsing.
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
import pandas as pd

MAX_LIMIT = 1000
EXCHANGE_INFO: dict[str, Any] = {
    "timezone": "UTC",
    "serverTime": 0,
    "rateLimits": [],
    "exchangeFilters": [],
    "symbols": [
        {
            "symbol": "BTCUSDT",
            "status": "TRADING",
            "baseAsset": "BTC",
            "baseAssetPrecision": 8,
            "quoteAsset": "USDT",
            "quotePrecision": 8,
            "quoteAssetPrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": False,
            "filters": [
                {
                    "filterType": "PRICE_FILTER",
                    "minPrice": "0.01",
                    "maxPrice": "1000000",
                    "tickSize": "0.01",
                },
                {
                    "filterType": "LOT_SIZE",
                    "minQty": "0.00001",
                    "maxQty": "9000",
                    "stepSize": "0.00001",
                },
            ],
            "permissions": [],
            "permissionSets": [["SPOT"]],
        }
    ],
}


@dataclass
class FakeBinance:
    """The bars the fake exchange has, the kline requests it saw, and when it should fail."""

    bars: pd.DataFrame
    kline_starts: list[pd.Timestamp] = field(default_factory=list)
    fail_after_requests: int | None = None

    def klines(self, query: dict[str, list[str]]) -> tuple[int, Any]:
        if (
            self.fail_after_requests is not None
            and len(self.kline_starts) >= self.fail_after_requests
        ):
            return 503, {"code": -1001, "msg": "Internal error; unable to process your request."}
        start_ms = int(query.get("startTime", ["0"])[0])
        limit = min(int(query.get("limit", ["500"])[0]), MAX_LIMIT)
        self.kline_starts.append(pd.Timestamp(start_ms, unit="ms", tz="UTC"))
        open_ms = pd.DatetimeIndex(self.bars.index).asi8 // 1_000_000
        chosen = self.bars.loc[open_ms >= start_ms].iloc[:limit]
        rows = [
            [
                int(t.value // 1_000_000),
                f"{o}",
                f"{h}",
                f"{lo}",
                f"{c}",
                f"{v}",
                int(t.value // 1_000_000) + 59_999,
                "0",
                1,
                "0",
                "0",
                "0",
            ]
            for t, (o, h, lo, c, v) in zip(chosen.index, chosen.to_numpy(), strict=True)
        ]
        return 200, rows


def _handler(exchange: FakeBinance) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/api/v3/exchangeInfo":
                status, body = 200, EXCHANGE_INFO
            elif url.path == "/api/v3/klines":
                status, body = exchange.klines(parse_qs(url.query))
            else:
                status, body = 404, {"code": -1, "msg": "not here"}
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
def serve(exchange: FakeBinance) -> Iterator[ccxt.binance]:
    """Run the fake on 127.0.0.1 and yield a ccxt Binance client pointed at it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(exchange))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = ccxt.binance(
        {"enableRateLimit": False, "options": {"fetchMarkets": {"types": ["spot"]}}}
    )
    client.urls["api"]["public"] = f"http://127.0.0.1:{server.server_address[1]}/api/v3"
    try:
        yield client
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
