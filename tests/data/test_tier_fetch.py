"""`strategylab data tiers fetch`: an exchange's leverage tiers through real ccxt against a local
stand-in of Binance USDⓈ-M futures (127.0.0.1 only): the conversion, the date and source the
stored table records, the sentence when the exchange wants a key and none is set, and the key
never printed or stored."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ccxt
import pytest
from typer.testing import CliRunner, Result

from app.data import tier_commands
from app.data.errors import FetchError
from app.data.tier_commands import tiers_app
from app.data.tier_fetch import ExchangeCredentials, fetch_tier_table, make_tier_exchange
from app.data.tiers import SHIPPED_DIR, TierCatalog, read_tier_file

from .fake_futures_exchange import FakeBinanceFutures, point_at, serve_futures

KEY = "k3y-0f-the-test-never-to-be-seen"
SECRET = "s3cret-0f-the-test-never-to-be-seen"
SHIPPED = read_tier_file(SHIPPED_DIR / "binance-usdtm" / "BTCUSDT-2024-09-27.json")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("STRATEGYLAB_DATA_DIR", str(folder))
    for name in ("KEY", "SECRET", "PASSWORD"):
        monkeypatch.delenv(f"STRATEGYLAB_EXCHANGE_API_{name}", raising=False)
    return folder


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinanceFutures]:
    """The fake exchange; the command's ccxt client (built by the real make_tier_exchange,
    credentials included) is pointed at it."""
    exchange = FakeBinanceFutures()
    with serve_futures(exchange) as base_url:

        def local(exchange_id: str, credentials: ExchangeCredentials) -> Any:
            return point_at(make_tier_exchange(exchange_id, credentials), base_url)

        monkeypatch.setattr(tier_commands, "make_tier_exchange", local)
        yield exchange


def run(*args: str) -> Result:
    return CliRunner().invoke(tiers_app, list(args))


def test_fetched_tiers_are_stored_dated_today_with_their_source(
    data_dir: Path, fake: FakeBinanceFutures, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATEGYLAB_EXCHANGE_API_KEY", KEY)
    monkeypatch.setenv("STRATEGYLAB_EXCHANGE_API_SECRET", SECRET)
    before = datetime.now(UTC).date().isoformat()
    result = run("fetch", "--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT")
    assert result.exit_code == 0, result.output
    (stored,) = TierCatalog(data_dir).stored()
    # the exchange's 12 brackets, converted figure for figure: the same table as the shipped one
    assert stored.tiers == SHIPPED.tiers
    assert stored.notional_cap == SHIPPED.notional_cap == 1_800_000_000
    assert (stored.exchange, stored.symbol) == ("binance-usdtm", "BTCUSDT")
    assert stored.snapshot_date in {before, datetime.now(UTC).date().isoformat()}
    assert stored.source.startswith(
        f"ccxt {ccxt.__version__} binanceusdm.fetch_leverage_tiers('BTC/USDT:USDT'), fetched "
        f"{stored.snapshot_date}T"
    )
    assert f"stored {stored.label()} (12 brackets) in " in result.output
    # the signed request carried the key; neither key nor secret is printed or stored
    assert ("/fapi/v1/leverageBracket", True, True) in fake.requests
    files = list((data_dir / "store" / "BTCUSDT" / "tiers").glob("*.json"))
    text = result.output + "".join(path.read_text() for path in files)
    assert KEY not in text and SECRET not in text
    # runs on the symbol now use it (the latest imported table comes first)
    assert TierCatalog(data_dir).default_for("BTCUSDT").table == stored


def test_without_a_key_the_exchange_that_wants_one_gets_the_sentence_that_says_so(
    data_dir: Path, fake: FakeBinanceFutures
) -> None:
    result = run("fetch", "--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # handled: no traceback
    assert result.output == (
        "error: binanceusdm gives its leverage tiers only to a signed request: set "
        "STRATEGYLAB_EXCHANGE_API_KEY and STRATEGYLAB_EXCHANGE_API_SECRET (a read-only API key "
        "is enough; they are read from the environment, never printed or stored) and run the "
        "fetch again.\n"
    )
    # ccxt refused to sign before anything was sent: the fake only saw the market list
    assert [path for path, _, _ in fake.requests] == ["/fapi/v1/exchangeInfo"]
    assert not (data_dir / "store").exists()


def test_a_key_without_its_secret_is_one_sentence(
    data_dir: Path, fake: FakeBinanceFutures, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STRATEGYLAB_EXCHANGE_API_KEY", KEY)
    result = run("fetch", "--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT")
    assert result.exit_code == 1
    assert result.output == (
        "error: STRATEGYLAB_EXCHANGE_API_KEY is set but STRATEGYLAB_EXCHANGE_API_SECRET is not: "
        "binanceusdm needs both.\n"
    )


def test_a_refused_key_is_named_without_showing_it(
    data_dir: Path, fake: FakeBinanceFutures, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.accepted_key = "another-key"
    monkeypatch.setenv("STRATEGYLAB_EXCHANGE_API_KEY", KEY)
    monkeypatch.setenv("STRATEGYLAB_EXCHANGE_API_SECRET", SECRET)
    result = run("fetch", "--exchange", "binanceusdm", "--symbol", "BTC/USDT:USDT")
    assert result.exit_code == 1
    assert "binanceusdm refused the API key in STRATEGYLAB_EXCHANGE_API_KEY" in result.output
    assert KEY not in result.output and SECRET not in result.output
    assert ("/fapi/v1/leverageBracket", True, True) in fake.requests  # it was asked, and said no


@pytest.mark.parametrize(
    ("symbol", "words"),
    [
        ("DOGE/USDT:USDT", "binanceusdm has no market 'DOGE/USDT:USDT'; give its symbol"),
        ("nonsense", "binanceusdm has no market 'nonsense'"),
    ],
)
def test_an_unknown_symbol_is_one_sentence(
    data_dir: Path, fake: FakeBinanceFutures, symbol: str, words: str
) -> None:
    result = run("fetch", "--exchange", "binanceusdm", "--symbol", symbol)
    assert result.exit_code == 1
    assert words in result.output


def test_an_unknown_exchange_is_one_sentence(data_dir: Path) -> None:
    result = run("fetch", "--exchange", "nosuchexchange", "--symbol", "BTC/USDT:USDT")
    assert result.exit_code == 1
    assert "ccxt has no exchange 'nosuchexchange'" in result.output


class PublicTiers:
    """An exchange with public tiers and no maintenance amounts (ccxt's shape, as Bybit's)."""

    id = "bybit"

    def __init__(self) -> None:
        self.has: Mapping[str, Any] = {"fetchMarketLeverageTiers": True, "fetchLeverageTiers": True}

    def load_markets(self, reload: bool = False, params: dict[str, Any] | None = None) -> Any:
        return {}

    def market(self, symbol: str) -> Any:
        if symbol != "ETH/USDT:USDT":
            raise ccxt.BadSymbol(symbol)
        return {"symbol": symbol, "id": "ETHUSDT", "contract": True}

    def fetch_leverage_tiers(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> Any:
        raise AssertionError("the native per-market call comes first")

    def fetch_market_leverage_tiers(self, symbol: str, params: dict[str, Any] | None = None) -> Any:
        rows = [(0, 200_000, 0.005, 100), (200_000, 1_000_000, 0.01, 50)]
        return [
            {"tier": n, "minNotional": lo, "maxNotional": hi, "maintenanceMarginRate": rate,
             "maxLeverage": lev, "info": {"riskLimitValue": str(hi)}}
            for n, (lo, hi, rate, lev) in enumerate(rows, start=1)
        ]  # fmt: skip


def test_public_tiers_without_maintenance_amounts_get_them_by_continuity() -> None:
    moment = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    table = fetch_tier_table(
        PublicTiers(), "ETH/USDT:USDT", credentials=ExchangeCredentials(), fetched_at=moment
    )
    # cum(2) = 0 + 200,000 x (0.01 - 0.005) = 1,000
    assert [tier.maintenance_amount for tier in table.tiers] == [0, 1_000]
    assert (table.name, table.notional_cap) == ("bybit/ETHUSDT@2026-12-01", 1_000_000)
    assert table.source == (
        f"ccxt {ccxt.__version__} bybit.fetch_market_leverage_tiers('ETH/USDT:USDT'), fetched "
        "2026-12-01T20:00:00Z; maintenance amounts derived by continuity"
    )
    assert json.loads(json.dumps(table.to_document()))["snapshot_date"] == "2026-12-01"


def test_a_spot_market_is_refused() -> None:
    class Spot(PublicTiers):
        def market(self, symbol: str) -> Any:
            return {"symbol": symbol, "id": "ETHUSDT", "contract": False}

    with pytest.raises(FetchError, match="is a spot market; leverage tiers belong to futures"):
        fetch_tier_table(
            Spot(), "ETH/USDT", credentials=ExchangeCredentials(), fetched_at=datetime.now(UTC)
        )


def test_credentials_never_show_in_a_repr() -> None:
    credentials = ExchangeCredentials(api_key=KEY, secret=SECRET)
    assert KEY not in repr(credentials) and SECRET not in repr(credentials)
    assert credentials.ccxt_config() == {"apiKey": KEY, "secret": SECRET}
