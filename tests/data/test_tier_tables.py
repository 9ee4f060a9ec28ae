"""Tier tables on disk: the shipped snapshots, importing an exchange's answer (ccxt's and
Binance's formats) into the store, and which table a run on a symbol gets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from app.data.commands import data_app
from app.data.tiers import SHIPPED_DIR, TierCatalog, TierChoiceError, convert_exchange_tiers
from app.engine import ConfigError

BTC_2024 = "binance-usdtm/BTCUSDT@2024-06-28/2024-09-27"

# The first brackets of BTCUSDT as ccxt's fetch_leverage_tiers returns them (freqtrade's
# binance_leverage_tiers.json holds this shape); numbers as Binance sends them.
CCXT_BTC = [
    {
        "tier": 1.0,
        "currency": "USDT",
        "minNotional": 0.0,
        "maxNotional": 50000.0,
        "maintenanceMarginRate": 0.004,
        "maxLeverage": 125.0,
        "info": {"bracket": "1", "notionalCap": "50000", "cum": "0.0"},
    },
    {
        "tier": 2.0,
        "currency": "USDT",
        "minNotional": 50000.0,
        "maxNotional": 600000.0,
        "maintenanceMarginRate": 0.005,
        "maxLeverage": 100.0,
        "info": {"bracket": "2", "notionalCap": "600000", "cum": "50.0"},
    },
    {
        "tier": 3.0,
        "currency": "USDT",
        "minNotional": 600000.0,
        "maxNotional": 3000000.0,
        "maintenanceMarginRate": 0.0065,
        "maxLeverage": 75.0,
        "info": {"bracket": "3", "notionalCap": "3000000", "cum": "950.0"},
    },
]
# Binance's /fapi/v1/leverageBracket answer (strings, as the API sends them).
BINANCE_ETH = [
    {
        "symbol": "ETHUSDT",
        "brackets": [
            {
                "bracket": 1,
                "initialLeverage": 75,
                "notionalCap": 10000,
                "notionalFloor": 0,
                "maintMarginRatio": 0.0065,
                "cum": 0.0,
            },
            {
                "bracket": 2,
                "initialLeverage": 50,
                "notionalCap": 100000,
                "notionalFloor": 10000,
                "maintMarginRatio": "0.01",
                "cum": "35",
            },
        ],
    }
]


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    monkeypatch.setenv("STRATEGYLAB_DATA_DIR", str(folder))
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(data_app, ["tiers", *args])


def test_every_shipped_table_is_consistent_dated_and_named_after_its_file() -> None:
    tables = TierCatalog().shipped()
    files = sorted(SHIPPED_DIR.glob("*/*.json"))
    assert len(tables) == len(files) >= 5
    for path in files:
        (table,) = [t for t in tables if path.name == f"{t.symbol}-{t.latest_day}.json"]
        assert path.parent.name == table.exchange
        assert table.source  # every file says where its figures come from
    assert {t.symbol for t in tables} >= {"BTCUSDT", "ETHUSDT", "BNBUSDT", "DOGEUSDT"}


def test_btcusdt_2024_is_the_published_snapshot_the_issue_quotes() -> None:
    # 50k 0.4 %, 600k 0.65 % cum 950, 3M 1 % cum 11,450.
    table = TierCatalog().find(BTC_2024)
    rows = [(t.notional_floor, t.maintenance_rate, t.maintenance_amount) for t in table.tiers[:4]]
    assert rows == [
        (0, 0.004, 0),
        (50_000, 0.005, 50),
        (600_000, 0.0065, 950),
        (3_000_000, 0.01, 11_450),
    ]
    assert table.notional_cap == 1_800_000_000


def test_a_symbol_gets_its_latest_snapshot_and_the_2023_one_stays_nameable() -> None:
    catalog = TierCatalog()
    assert catalog.default_for("BTCUSDT").table.name == BTC_2024
    assert catalog.default_for("BTCUSDT-PERP").table.name == BTC_2024  # a store's suffix
    old = catalog.choose("binance-usdtm/BTCUSDT@2023-04-16", "BTCUSDT")
    assert (old.how, old.table.tiers[2].notional_floor) == ("named", 250_000)
    assert catalog.choose("ETHUSDT", "BTCUSDT").table.symbol == "ETHUSDT"


def test_a_symbol_without_a_table_says_which_stands_in() -> None:
    choice = TierCatalog().default_for("PEPEUSDT")
    assert choice.how == "fallback"
    assert choice.table.name == BTC_2024
    assert choice.label.endswith("standing in for PEPEUSDT, which has no table")


def test_an_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(TierChoiceError, match="did you mean 'binance-usdtm/BTCUSDT@2023-04-16'"):
        TierCatalog().find("binance-usdtm/BTCUSDT@2023-04-15")


def test_ccxt_and_binance_answers_convert_to_checked_tables() -> None:
    btc = convert_exchange_tiers(
        CCXT_BTC,
        symbol="BTC/USDT:USDT",
        exchange="binance-usdtm",
        snapshot_date="2024-07-01",
        source="ccxt",
    )
    assert (btc.symbol, btc.notional_cap) == ("BTCUSDT", 3_000_000)
    assert [t.maintenance_amount for t in btc.tiers] == [0, 50, 950]
    eth = convert_exchange_tiers(
        BINANCE_ETH,
        symbol="ETHUSDT",
        exchange="binance-usdtm",
        snapshot_date="2024-07-01",
        source="api",
    )
    assert [(t.max_leverage, t.maintenance_rate) for t in eth.tiers] == [(75, 0.0065), (50, 0.01)]
    bad = json.loads(json.dumps(CCXT_BTC))
    bad[2]["info"]["cum"] = "900"
    with pytest.raises(ConfigError, match="bracket 3: maintenance_amount 900 breaks"):
        convert_exchange_tiers(
            bad,
            symbol="BTCUSDT",
            exchange="binance-usdtm",
            snapshot_date="2024-07-01",
            source="ccxt",
        )


def test_import_stores_the_table_and_runs_on_the_symbol_use_it(
    data_dir: Path, tmp_path: Path
) -> None:
    answer = tmp_path / "btc.json"
    answer.write_text(json.dumps(CCXT_BTC))
    result = run("import", str(answer), "--symbol", "BTCUSDT", "--snapshot-date", "2026-11-30")
    assert result.exit_code == 0, result.output
    assert "stored binance-usdtm/BTCUSDT@2026-11-30" in result.output
    (stored,) = (data_dir / "store" / "BTCUSDT" / "tiers").glob("*.json")
    catalog = TierCatalog(data_dir)
    choice = catalog.default_for("BTCUSDT")
    assert (choice.how, choice.table.name) == ("stored", "binance-usdtm/BTCUSDT@2026-11-30")
    assert (
        run("import", str(answer), "--symbol", "BTCUSDT", "--snapshot-date", "2026-11-30").exit_code
        == 0
    )
    assert len(list(stored.parent.glob("*.json"))) == 1  # the same table is stored once
    listing = run("list", "--symbol", "BTCUSDT")
    assert "imported" in listing.output and "shipped" in listing.output
    shown = run("show", "binance-usdtm/BTCUSDT@2026-11-30")
    assert "0.6500%" in shown.output and "950.00" in shown.output


@pytest.mark.parametrize(
    ("content", "args", "says"),
    [
        pytest.param("not json", (), "is not JSON", id="not-json"),
        pytest.param(json.dumps(CCXT_BTC), (), "pass --symbol", id="exchange-answer-no-symbol"),
        pytest.param(
            json.dumps(CCXT_BTC),
            ("--symbol", "BTCUSDT", "--snapshot-date", "July"),
            "ISO date",
            id="bad-date",
        ),
        pytest.param(
            json.dumps({"brackets": []}), ("--symbol", "BTCUSDT"), "list of 1 to", id="empty"
        ),
    ],
)
def test_bad_imports_fail_with_one_sentence(
    data_dir: Path, tmp_path: Path, content: str, args: tuple[str, ...], says: str
) -> None:
    path = tmp_path / "t.json"
    path.write_text(content)
    result = run("import", str(path), *args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert says in result.output
    assert not (data_dir / "store").exists()


def test_a_stored_table_file_that_was_tampered_with_is_skipped(data_dir: Path) -> None:
    folder = data_dir / "store" / "BTCUSDT" / "tiers"
    folder.mkdir(parents=True)
    document: dict[str, Any] = TierCatalog().find(BTC_2024).to_document()
    document["brackets"][2]["maintenance_amount"] = 1.0
    (folder / "2099-01-01-bad.json").write_text(json.dumps(document))
    assert TierCatalog(data_dir).default_for("BTCUSDT").how == "shipped"
