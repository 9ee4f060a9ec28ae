"""`strategylab run FILE --data BTC=... --data ETH=...`: one account over several symbols,
the symbol column in trades.csv and orders.csv, every dataset in provenance.json, and the
refusals (a missing bar, another bar size) as one sentence before anything runs."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.data import generate_ohlcv
from app.data.parquet import write_ohlcv_parquet

EXAMPLE = Path(__file__).resolve().parents[2] / "strategies_examples" / "relative_strength.py"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("symbols")
    btc = generate_ohlcv(bars=600, timeframe="1h", seed=11)
    eth = generate_ohlcv(bars=600, timeframe="1h", seed=23, start_price=1_200.0)
    paths = {"btc": folder / "BTCUSDT-1h.parquet", "eth": folder / "ETHUSDT-1h.parquet"}
    write_ohlcv_parquet(btc, paths["btc"])
    write_ohlcv_parquet(eth, paths["eth"])
    paths["gappy"] = folder / "gappy.parquet"
    write_ohlcv_parquet(eth.drop(eth.index[[100, 101, 400]]), paths["gappy"])
    paths["4h"] = folder / "ETH4H.parquet"
    write_ohlcv_parquet(generate_ohlcv(bars=150, timeframe="4h", seed=3), paths["4h"])
    return paths


def run(*args: str | Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, [str(arg) for arg in args])
    return result.exit_code, result.output


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_symbols_in_one_account(data: dict[str, Path], tmp_path: Path) -> None:
    code, output = run(
        "run", EXAMPLE, "--data", data["btc"], "--data", data["eth"], "--mode", "spot",
        "--param", "lookback=24", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, output
    trades = rows(tmp_path / "trades.csv")
    assert {t["symbol"] for t in trades} == {"BTCUSDT", "ETHUSDT"}
    orders = rows(tmp_path / "orders.csv")
    assert {o["symbol"] for o in orders} == {"BTCUSDT", "ETHUSDT"}
    # one position at a time: each trade opens after the previous one closed
    for before, after in itertools.pairwise(trades):
        assert after["entry_time"] > before["exit_time"]
    data_part = json.loads((tmp_path / "provenance.json").read_text())["data"]
    assert data_part["symbol"] == "BTCUSDT"
    (eth,) = data_part["other_symbols"]
    assert eth["symbol"] == "ETHUSDT" and eth["content_hash"].startswith("sha256:")
    assert "ETHUSDT" in eth["tiers"]["table"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    per_symbol = metrics["symbols"]
    assert sum(s["trades"] for s in per_symbol.values()) == metrics["metrics"]["trades"]
    assert sum(s["fees_paid"] for s in per_symbol.values()) == pytest.approx(
        metrics["metrics"]["fees_paid"]
    )


def test_a_missing_bar_is_refused_with_the_option_to_use(data: dict[str, Path]) -> None:
    code, output = run(
        "run", EXAMPLE, "--data", data["btc"], "--data", f"ETHUSDT={data['gappy']}",
        "--mode", "spot",
    )  # fmt: skip
    assert code != 0
    text = " ".join(output.split())
    assert "ETHUSDT has no bar at 3 of the 600 bar times" in text
    assert "--missing-bars common" in text
    assert "Traceback" not in output


def test_common_bars_trade_only_where_every_symbol_has_one(
    data: dict[str, Path], tmp_path: Path
) -> None:
    code, output = run(
        "run", EXAMPLE, "--data", data["btc"], "--data", f"ETHUSDT={data['gappy']}",
        "--mode", "spot", "--missing-bars", "common", "--out", tmp_path,
    )  # fmt: skip
    assert code == 0, output
    metrics = json.loads((tmp_path / "metrics.json").read_text())["metrics"]
    assert metrics["bars_dropped"] == 3 and metrics["bars"] == 597
    provenance = json.loads((tmp_path / "provenance.json").read_text())["data"]
    assert (provenance["missing_bars"], provenance["bars_dropped"]) == ("common", 3)


def test_another_bar_size_is_refused(data: dict[str, Path]) -> None:
    code, output = run("run", EXAMPLE, "--data", data["btc"], "--data", f"ETHUSDT={data['4h']}")
    assert code != 0
    assert "ETHUSDT has 4h bars and BTCUSDT 1h bars" in " ".join(output.split())


def test_one_symbol_files_keep_their_columns(data: dict[str, Path], tmp_path: Path) -> None:
    sma = EXAMPLE.parent / "sma_crossover.py"
    code, output = run("run", sma, "--data", data["btc"], "--out", tmp_path)
    assert code == 0, output
    header = (tmp_path / "trades.csv").read_text().splitlines()[0]
    assert "symbol" not in header
    assert "other_symbols" not in json.loads((tmp_path / "provenance.json").read_text())["data"]


def test_checkpoints_of_several_symbols_are_refused_before_the_run(
    data: dict[str, Path], tmp_path: Path
) -> None:
    code, output = run(
        "run", EXAMPLE, "--data", data["btc"], "--data", data["eth"], "--mode", "spot",
        "--checkpoint-every", "100", "--out", tmp_path,
    )  # fmt: skip
    assert code != 0
    assert "several symbols cannot take checkpoints" in " ".join(output.split())
    assert not (tmp_path / "trades.csv").exists()
