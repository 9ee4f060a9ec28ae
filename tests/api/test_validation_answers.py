"""The API answers a source too deep, too large or with non-finite params with diagnostics
(200 from /api/validate, 422 from an upload, which then stores nothing), never a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.api.conftest import LoopbackClient
from tests.jobs.fixtures import make_settings, write_sample

ON_DATA = "class S(Strategy):\n    def on_data(self, bar):\n        pass\n"


def with_params(params: str) -> str:
    return ON_DATA.replace("    def", f"    params = {params}\n    def")


JSON = {"content-type": "application/json"}
HOSTILE = {
    "flat sum": (ON_DATA + "x = " + "+".join(["a"] * 3_000) + "\n", "SB013"),
    "long flat sum": (ON_DATA + "x = " + "+".join(["a"] * 100_000) + "\n", "SB017"),
    "deep blocks": (
        ON_DATA + "".join(" " * 4 * i + "for a in b:\n" for i in range(40)) + " " * 160 + "pass\n",
        "SB014",
    ),
    "many classes": (
        ON_DATA + "".join(f"class C{i}(S):\n    pass\n" for i in range(1_000)),
        "SB015",
    ),
    "infinite param": (with_params("{'x': 1e999}"), "SB703"),
    "nan param": (with_params("{'x': [float('nan')]}"), "SB702"),
    "huge int param": (with_params("{'x': 10 ** 400}"), "SB701"),
}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module: nothing here may store anything, which the tests check."""
    data_dir = tmp_path_factory.mktemp("api")
    write_sample(data_dir)
    with LoopbackClient(create_app(make_settings(data_dir))) as client:
        yield client


@pytest.mark.parametrize("name", list(HOSTILE))
def test_cant_make_validate_answer_500(api: TestClient, name: str) -> None:
    source, code = HOSTILE[name]
    body = json.dumps({"code": source})  # ASCII JSON: a lone surrogate travels as \ud800
    answer = api.post("/api/validate", content=body, headers=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is False
    assert code in {d["code"] for d in answer.json()["diagnostics"]}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_cant_store_an_upload_that_does_not_validate(api: TestClient, name: str) -> None:
    source, code = HOSTILE[name]
    files = {"file": ("hostile.py", source.encode(), "text/x-python")}
    answer = api.post("/api/strategies/upload", files=files)
    assert answer.status_code == 422, answer.text
    assert code in {d["code"] for d in answer.json()["diagnostics"]}
    assert all(s["name"] != "hostile" for s in api.get("/api/strategies").json())


@pytest.mark.parametrize("text", ["x = '\ud800'", "x\udfff = 1", "y = 1\x00"])
def test_text_that_is_not_source_is_refused_without_a_500(api: TestClient, text: str) -> None:
    body = json.dumps({"code": ON_DATA + text})  # ASCII JSON: a surrogate travels as \ud800
    answer = api.post("/api/validate", content=body, headers=JSON)
    assert answer.status_code in (200, 422), answer.text
    if answer.status_code == 200:
        assert "SB002" in {d["code"] for d in answer.json()["diagnostics"]}
    else:
        assert answer.json()["detail"][0]["loc"] == ["body", "code"]


@pytest.mark.parametrize(
    "params", ["{'x': 1e999}", "{'x': -1e999, 'y': 1}", "{'x': 10 ** 400}", "{'x': [1e999]}"]
)
def test_a_saved_draft_with_non_finite_params_reads_back_without_a_500(
    api: TestClient, params: str
) -> None:
    saved = api.post("/api/strategies", json={"name": "draft", "code": with_params(params)})
    assert saved.status_code == 201, saved.text
    strategy_id = saved.json()["id"]
    read = api.get(f"/api/strategies/{strategy_id}")
    assert read.status_code == 200, read.text
    assert "x" not in read.json()["params"]  # a refused default is never offered
    assert api.delete(f"/api/strategies/{strategy_id}").status_code == 204
