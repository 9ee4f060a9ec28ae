"""One run pipeline: the same strategy and config give byte-identical trades and identical
provenance whether they come in by the CLI, the API or the run service directly; and a
strategy that inherits its params runs with them merged from every door."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import cli_app
from app.main import create_app
from app.runs import RunOrder, RunService, door_free, operator_maximums
from app.runs.prepare import prepare_file_run
from tests.api.conftest import LoopbackClient, wait_until_finished
from tests.jobs.fixtures import SAMPLE_NAME, SMA_CODE, make_settings, write_sample

pytestmark = pytest.mark.slow

INHERITED = '''"""Two levels: the base declares the averages, the leaf adds its own size."""


class Base(Strategy):
    params = {"fast": 8, "slow": 21}

    def initialize(self):
        self.fast = self.indicator("sma", length=self.params["fast"])
        self.slow = self.indicator("sma", length=self.params["slow"])

    def on_data(self, bar):
        if crossover(self.fast, self.slow):
            self.close_position()
            self.buy(self.params["size"])
        elif crossover(self.slow, self.fast):
            self.close_position()


class Leaf(Base):
    params = {"size": 0.1}
'''
OPTIONS = {"cash": 25_000.0, "fee_taker": 0.0004, "leverage_max": 20.0, "slippage_bps": 2.0}
CLI_OPTIONS = ["--cash", "25000", "--fee-taker", "0.0004", "--leverage-max", "20"]
CLI_OPTIONS += ["--slippage-bps", "2", "--symbol", "TESTUSDT"]


def through_cli(code: str, data: Path, out: Path, params: dict[str, str]) -> Path:
    strategy = out.parent / f"{out.name}.py"
    strategy.write_text(code)
    overrides = [arg for name, value in params.items() for arg in ("--param", f"{name}={value}")]
    args = ["run", str(strategy), "--data", str(data), "--out", str(out)]
    result = CliRunner().invoke(cli_app, [*args, *CLI_OPTIONS, *overrides])
    assert result.exit_code == 0, result.output
    return out


def through_api(code: str, root: Path, params: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    settings = make_settings(root)
    body = {
        "code": code,
        "dataset": SAMPLE_NAME,
        "cash": OPTIONS["cash"],
        "fees": {"taker": OPTIONS["fee_taker"]},
        "leverage_max": OPTIONS["leverage_max"],
        "slippage_bps": OPTIONS["slippage_bps"],
        "params": params,
    }
    with LoopbackClient(create_app(settings)) as client:
        created = client.post("/api/runs", json=body)
        assert created.status_code == 201, created.text
        run = wait_until_finished(client, created.json()["id"])
    assert run["status"] == "done", run
    return settings.runs_dir / run["id"], run


def through_service(code: str, data: Path, out: Path, params: dict[str, Any]) -> Path:
    strategy = out.parent / f"{out.name}.py"
    strategy.write_text(code)
    settings = make_settings(out.parent)
    service = RunService.from_settings(settings)
    order = RunOrder(options=OPTIONS, params=params)
    prepared = prepare_file_run(
        strategy, data, order, symbol="TESTUSDT", maximums=operator_maximums(settings)
    )
    service.run(prepared, door="direct", names={}, out_dir=out)
    return out


def provenance_of(folder: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((folder / "provenance.json").read_text())
    return document


@pytest.mark.parametrize(
    ("code", "params"),
    [(SMA_CODE, {"fast": 6}), (INHERITED, {"size": 0.2, "slow": 30})],
    ids=["sma", "inherited"],
)
def test_every_door_gives_the_same_trades_and_provenance(
    code: str, params: dict[str, Any], tmp_path: Path
) -> None:
    data = write_sample(tmp_path / "api")
    api_folder, run = through_api(code, tmp_path / "api", params)
    cli_folder = through_cli(code, data, tmp_path / "cli", {k: str(v) for k, v in params.items()})
    direct_folder = through_service(code, data, tmp_path / "direct", params)

    trades = {(f / "trades.csv").read_bytes() for f in (api_folder, cli_folder, direct_folder)}
    assert len(trades) == 1 and trades.pop().count(b"\n") > 2
    documents = [provenance_of(f) for f in (api_folder, cli_folder, direct_folder)]
    assert door_free(documents[0]) == door_free(documents[1]) == door_free(documents[2])
    assert [d["source"]["door"] for d in documents] == ["api", "cli", "direct"]
    first = documents[0]
    for key in ("git_commit", "strategylab_version", "config_sha256"):
        assert first[key], key
    assert first["strategy"]["code_sha256"] == run["code_hash"]
    assert first["config_sha256"] == run["config_hash"]
    assert first["data"]["content_hash"] == run["dataset_hash"]
    assert door_free(run["provenance"]) == door_free(first)


def test_an_inherited_strategy_runs_the_leaf_with_merged_params(tmp_path: Path) -> None:
    data = write_sample(tmp_path / "api")
    _, run = through_api(INHERITED, tmp_path / "api", {"fast": 5})
    assert run["strategy_name"] == "Leaf"
    assert run["params"] == {"fast": 5, "size": 0.1, "slow": 21}
    cli_folder = through_cli(INHERITED, data, tmp_path / "cli", {"fast": "5"})
    provenance = provenance_of(cli_folder)
    assert provenance["strategy"]["class"] == "Leaf"
    assert provenance["params"] == {"fast": 5, "size": 0.1, "slow": 21}


def test_a_web_run_writes_its_folder_and_deleting_the_run_removes_it(tmp_path: Path) -> None:
    write_sample(tmp_path)
    settings = make_settings(tmp_path)
    with LoopbackClient(create_app(settings)) as client:
        body = {"code": SMA_CODE, "dataset": SAMPLE_NAME}
        run_id = client.post("/api/runs", json=body).json()["id"]
        assert wait_until_finished(client, run_id)["status"] == "done"
        folder = settings.runs_dir / run_id
        assert (folder / "trades.csv").is_file() and (folder / "provenance.json").is_file()
        assert client.delete(f"/api/runs/{run_id}").status_code == 204
        assert not folder.exists()
