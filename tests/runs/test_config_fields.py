"""RunConfig's field table is the one description of a run's options: the API schema, the CLI
help and the run form show each field with the table's default and bounds, and the config
reads back what it writes."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli_app
from app.engine import (
    MAX_LEVERAGE,
    OPTION_FIELDS,
    RUN_CONFIG_FIELDS,
    ConfigError,
    ConfigField,
    FieldRole,
    Mode,
    RunConfig,
)
from app.main import create_app
from app.settings import Settings

FEES = {"fee_maker": "maker", "fee_taker": "taker"}
NOT_OPTIONS = {
    "margin_tiers": FieldRole.TABLE,
    "tier_table": FieldRole.TABLE,
    "tier_notional_cap": FieldRole.TABLE,
    "symbol": FieldRole.DATASET,
    "other_datasets": FieldRole.DATASET,
    "missing_bars": FieldRole.DATASET,
    "symbol_tiers": FieldRole.TABLE,
    "start": FieldRole.PERIOD,
    "end": FieldRole.PERIOD,
    "params": FieldRole.STRATEGY,
    "max_log_lines": FieldRole.OPERATOR,
    "max_log_line_chars": FieldRole.OPERATOR,
    "max_log_chars": FieldRole.OPERATOR,
    "max_trades": FieldRole.OPERATOR,
    "max_orders": FieldRole.OPERATOR,
    "checkpoint_every": FieldRole.EXECUTION,
    "keep_checkpoints": FieldRole.EXECUTION,
}


def plain(value: object) -> object:
    return value.value if isinstance(value, Mode) else value


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    run_create: dict[str, Any] = create_app().openapi()["components"]["schemas"]
    return run_create


@pytest.fixture(scope="module")
def form(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    root = tmp_path_factory.mktemp("form")
    settings = Settings(
        data_dir=root, runs_dir=root / "runs", database_url=f"sqlite:///{root / 't.db'}", workers=1
    )
    with TestClient(create_app(settings)) as client:
        html = client.get("/", headers={"host": "127.0.0.1"}).text
    return FormReader.read(html)


class FormReader(HTMLParser):
    """The run form's option inputs (data-option) with their attributes; selects with their
    options and the selected one."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str]] = {}
        self._select: str | None = None

    @classmethod
    def read(cls, html: str) -> dict[str, dict[str, str]]:
        reader = cls()
        reader.feed(html)
        return reader.inputs

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag in ("input", "select") and "data-option" in found:
            self.inputs[found["data-option"]] = {**found, "choices": ""}
            self._select = found["data-option"] if tag == "select" else None
        elif tag == "option" and self._select is not None:
            entry = self.inputs[self._select]
            entry["choices"] = ",".join(filter(None, [entry["choices"], found["value"]]))
            if "selected" in found:
                entry["value"] = found["value"]
        elif tag == "input" and found.get("id") in ("run-start", "run-end"):
            entry = self.inputs.setdefault("__period__", {"ids": ""})
            entry["ids"] = ",".join(filter(None, [entry["ids"], found["id"].removeprefix("run-")]))
        elif tag == "input" and found.get("name") == "mode":
            entry = self.inputs.setdefault("mode", {"choices": ""})
            entry["choices"] = ",".join(filter(None, [entry["choices"], found["value"]]))
            if "checked" in found:
                entry["value"] = found["value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def test_every_field_is_an_option_or_has_a_stated_role() -> None:
    roles = {spec.name: spec.role for spec in RUN_CONFIG_FIELDS}
    assert {name: role for name, role in roles.items() if role is not FieldRole.OPTION} == (
        NOT_OPTIONS
    )
    assert {spec.name for spec in RUN_CONFIG_FIELDS} == set(RunConfig.__dataclass_fields__)


@pytest.mark.parametrize("spec", OPTION_FIELDS, ids=lambda s: s.name)
def test_the_api_schema_has_each_option_with_its_default_and_bounds(
    spec: ConfigField, schema: dict[str, Any]
) -> None:
    if spec.name in FEES:
        prop = schema["Fees"]["properties"][FEES[spec.name]]
    else:
        prop = schema["RunCreate"]["properties"][spec.name]
    if spec.kind is Mode:
        assert prop["default"] == plain(spec.default)
        assert set(schema["Mode"]["enum"]) == {plain(c) for c in spec.choices}
        return
    assert prop["default"] == spec.default
    low = "exclusiveMinimum" if spec.is_minimum_exclusive else "minimum"
    high = "exclusiveMaximum" if spec.is_maximum_exclusive else "maximum"
    assert prop.get(low) == spec.minimum
    assert prop.get(high) == spec.maximum
    assert prop.get("enum", []) == list(spec.choices)


@pytest.mark.parametrize("spec", OPTION_FIELDS, ids=lambda s: s.name)
def test_the_cli_help_has_each_option_with_its_default_and_bounds(spec: ConfigField) -> None:
    result = CliRunner().invoke(cli_app, ["run", "--help"], env={"COLUMNS": "400"}, color=False)
    text = re.sub(r"[│\s]+", " ", result.output)
    assert spec.flag in text
    assert spec.describe() in text


@pytest.mark.parametrize("spec", OPTION_FIELDS, ids=lambda s: s.name)
def test_the_run_form_has_each_option_with_its_default_and_bounds(
    spec: ConfigField, form: dict[str, dict[str, str]]
) -> None:
    field = form[spec.name]
    if spec.choices:
        assert field["choices"].split(",") == [str(plain(c)) for c in spec.choices] or sorted(
            field["choices"].split(",")
        ) == sorted(str(plain(c)) for c in spec.choices)
        assert field["value"] == str(plain(spec.default))
        return
    scale = float(field["data-scale"])
    assert float(field["value"]) / scale == pytest.approx(spec.default, abs=1e-15)
    assert float(field["min"]) / scale == pytest.approx(spec.minimum)
    assert float(field["max"]) / scale == pytest.approx(spec.maximum)
    assert field["data-min-exclusive"] == str(spec.is_minimum_exclusive).lower()
    assert field["data-max-exclusive"] == str(spec.is_maximum_exclusive).lower()


def test_leverage_has_one_default_and_one_bound_everywhere(
    schema: dict[str, Any], form: dict[str, dict[str, str]]
) -> None:
    prop = schema["RunCreate"]["properties"]["leverage_max"]
    assert RunConfig().leverage_max == prop["default"] == prop["maximum"] == MAX_LEVERAGE
    assert float(form["leverage_max"]["value"]) == float(form["leverage_max"]["max"]) == 125
    with pytest.raises(ConfigError, match="leverage_max"):
        RunConfig(leverage_max=MAX_LEVERAGE + 0.5)
    RunConfig(leverage_max=1.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("cash", 0.0),
        ("cash", float("nan")),
        ("fee_taker", 0.1),
        ("fee_maker", -0.0001),
        ("slippage_bps", 1000.0),
        ("funding_interval_h", 3),
        ("trading_days_per_year", 360),
        ("funding_rate", float("inf")),
        ("cash", True),
        ("max_log_lines", 0),
    ],
)
def test_a_value_outside_its_field_is_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        RunConfig(**{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field


def test_the_config_reads_back_what_it_writes_with_its_version() -> None:
    config = RunConfig(
        mode=Mode.SPOT, cash=5_000.0, fee_taker=0.0004, params=(("slow", 40), ("fast", 5))
    )
    data = config.to_dict()
    assert data["version"] == 1
    again = RunConfig.from_dict(data)
    assert again == config and again.fingerprint() == config.fingerprint()
    legacy = {key: value for key, value in data.items() if key != "version"}
    assert RunConfig.from_dict(legacy) == config


@pytest.mark.parametrize(
    ("change", "field"),
    [({"version": 2}, "version"), ({"colour": "red"}, "colour"), ({"mode": "margin"}, "config")],
)
def test_an_unreadable_config_is_refused(change: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RunConfig.from_dict({**RunConfig().to_dict(), **change})
    assert caught.value.field == field


def test_docs_architecture_exists_and_names_every_package() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()
    for folder in ("app/engine", "app/runs", "app/jobs", "app/api", "app/db", "sandbox"):
        assert folder in text


def test_every_door_takes_the_period(
    schema: dict[str, Any], form: dict[str, dict[str, str]]
) -> None:
    periods = [spec.name for spec in RUN_CONFIG_FIELDS if spec.role is FieldRole.PERIOD]
    assert periods == ["start", "end"]
    help_text = CliRunner().invoke(cli_app, ["run", "--help"], env={"COLUMNS": "400"}).output
    for name in periods:
        assert name in schema["RunCreate"]["properties"]
        assert f"--{name}" in help_text
    assert {"start", "end"} <= set(form["__period__"]["ids"].split(","))
