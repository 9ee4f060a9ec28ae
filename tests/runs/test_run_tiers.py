"""Which tier table a run uses, from every door: the symbol's latest by default, a stand-in
said in the run's record, a file on the command line, a name or an inline table in the API;
its name, snapshot and sha256 in the provenance; a bad choice refused before anything runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.data.tiers import SHIPPED_DIR, TierCatalog
from app.engine.tiers import tiers_sha256
from app.main import create_app
from app.runs import RunOrder, provenance
from app.runs.prepare import prepare_file_run
from sandbox import OperatorMaximums
from tests.api.conftest import LoopbackClient
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings, write_sample

BTC_2024 = "binance-usdtm/BTCUSDT@2024-06-28/2024-09-27"
ETH_FILE = SHIPPED_DIR / "binance-usdtm" / "ETHUSDT-2024-09-27.json"


def cli_run(tmp_path: Path, *extra: str) -> tuple[int, str, dict[str, Any] | None]:
    data = write_sample(tmp_path / "data")
    strategy = tmp_path / "sma.py"
    strategy.write_text(SMA_CODE)
    out = tmp_path / "out"
    args = ["run", str(strategy), "--data", str(data), "--out", str(out), *extra]
    result = CliRunner().invoke(cli_app, args)
    provenance = out / "provenance.json"
    document = json.loads(provenance.read_text()) if provenance.is_file() else None
    return result.exit_code, result.output, document


@pytest.mark.slow
def test_a_cli_run_records_the_table_it_used(tmp_path: Path) -> None:
    code, output, document = cli_run(tmp_path, "--symbol", "BTCUSDT", "--tiers", str(ETH_FILE))
    assert code == 0, output
    assert document is not None
    eth = TierCatalog().find("ETHUSDT")
    assert document["tiers"] == {
        "table": eth.label(),
        "sha256": eth.sha256,
        "brackets": 12,
    }
    assert document["config"]["tier_table"] == eth.label()
    assert document["config"]["tier_notional_cap"] == eth.notional_cap == 1_200_000_000
    stored = document["config"]["margin_tiers"]
    assert [row["maintenance_amount"] for row in stored[:3]] == [0, 50, 950]


def test_a_symbol_without_a_table_runs_on_the_stand_in_and_says_so(tmp_path: Path) -> None:
    data = write_sample(tmp_path / "data")
    strategy = tmp_path / "sma.py"
    strategy.write_text(SMA_CODE)
    prepared = prepare_file_run(
        strategy, data, RunOrder(), symbol="TESTUSDT", maximums=OperatorMaximums()
    )
    document = provenance(prepared.inputs, door="cli", names={})
    assert document["tiers"]["table"].startswith(BTC_2024)
    assert document["tiers"]["table"].endswith("standing in for TESTUSDT, which has no table")
    assert document["tiers"]["sha256"] == TierCatalog().find(BTC_2024).sha256


@pytest.mark.parametrize(
    ("content", "says"),
    [
        pytest.param(None, "does not exist", id="missing"),
        pytest.param("{", "is not JSON", id="not-json"),
        pytest.param(
            '[{"minNotional": 0}]',
            "import it with `strategylab data tiers import",
            id="exchange-answer",
        ),
        pytest.param(
            json.dumps(
                {
                    "format": "strategylab-tiers/1",
                    "exchange": "binance-usdtm",
                    "symbol": "BTCUSDT",
                    "snapshot_date": "2024-01-01",
                    "source": "x",
                    "brackets": [
                        {
                            "notional_floor": 0,
                            "notional_cap": 10,
                            "maintenance_rate": 0.01,
                            "maintenance_amount": 0,
                            "max_leverage": 20,
                        },
                        {
                            "notional_floor": 10,
                            "notional_cap": 20,
                            "maintenance_rate": 0.02,
                            "maintenance_amount": 5,
                            "max_leverage": 10,
                        },
                    ],
                }
            ),
            "bracket 2: maintenance_amount 5 breaks the continuity",
            id="bad-cum",
        ),
    ],
)
def test_a_bad_tiers_file_is_refused_before_the_run(
    tmp_path: Path, content: str | None, says: str
) -> None:
    path = tmp_path / "tiers.json"
    if content is not None:
        path.write_text(content)
    code, output, document = cli_run(tmp_path, "--tiers", str(path))
    assert code == 2, output
    assert "--tiers:" in output and says in " ".join(output.split())
    assert "Traceback" not in output and document is None


@pytest.mark.slow
def test_the_api_takes_a_table_name_or_an_inline_table(tmp_path: Path) -> None:
    write_sample(tmp_path)
    body: dict[str, Any] = {"code": SMA_CODE, "dataset": SAMPLE_NAME}
    eth = TierCatalog().find("ETHUSDT")
    with LoopbackClient(create_app(make_settings(tmp_path))) as client:
        named = client.post("/api/runs", json={**body, "tiers": "binance-usdtm/BTCUSDT@2023-04-16"})
        inline = client.post("/api/runs", json={**body, "tiers": eth.to_document()})
        wrong = client.post("/api/runs", json={**body, "tiers": "binance-usdtm/BTCUSDT@2023"})
        listing = client.get("/api/tiers")
        runs = [client.get(f"/api/runs/{r.json()['id']}").json() for r in (named, inline)]
    assert (named.status_code, inline.status_code) == (201, 201), (named.text, inline.text)
    assert wrong.status_code == 422
    assert "tiers" in wrong.text and "did you mean" in wrong.text
    names = [entry["name"] for entry in listing.json()]
    assert BTC_2024 in names and "binance-usdtm/BTCUSDT@2023-04-16" in names
    old, own = (run["provenance"]["tiers"] for run in runs)
    assert old["table"].startswith("binance-usdtm/BTCUSDT@2023-04-16 (sha256:")
    assert own == {"table": eth.label(), "sha256": tiers_sha256(eth.tiers), "brackets": 12}
