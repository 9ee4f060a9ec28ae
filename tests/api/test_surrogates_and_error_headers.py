"""Lone UTF-16 surrogates and unhandled exceptions: no response is a 500 because of a surrogate
(the one JSON encoder replaces each with U+FFFD), API input holding one is refused with a 422
naming the field and nothing is stored, and even the 500 of an unhandled exception carries the
security headers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import strict_json
from app.api.responses import StrictJSONResponse
from app.api.security_headers import UI_POLICY, security_headers
from app.main import create_app
from tests.api.conftest import LoopbackClient
from tests.jobs.fixtures import SAMPLE_NAME, make_settings

CODE = "class Quiet(Strategy):\n    def on_data(self, bar):\n        pass\n"
SURROGATES = ["\ud800", "\udfff", "\udcff", "a\ud83db", "\ude00\ud83d"]  # lone, or reversed


@pytest.fixture
def app_with_faults(data_dir: Path) -> TestClient:
    """The real app with test routes that raise and that answer with surrogates."""
    app = create_app(make_settings(data_dir))

    @app.get("/test/raises")
    def raises() -> None:
        raise RuntimeError("unhandled")

    @app.get("/test/surrogate")
    def surrogate() -> dict[str, object]:
        return {"name": "bad\ud800name", "\udcff": ["x\udfff"], "fine": "\U0001f600"}

    return LoopbackClient(app, raise_server_exceptions=False)


@pytest.fixture
def faulty(app_with_faults: TestClient) -> Iterator[TestClient]:
    with app_with_faults as client:
        yield client


# -- the one encoder -------------------------------------------------------------------------


@pytest.mark.parametrize("text", SURROGATES)
def test_a_lone_surrogate_is_encoded_as_the_replacement_character(text: str) -> None:
    body = StrictJSONResponse({"text": text, text: 1}).body
    decoded = json.loads(bytes(body).decode("utf-8"))  # valid UTF-8, valid JSON
    expected = strict_json.without_surrogates(text)
    assert decoded == {"text": expected, expected: 1}
    assert "\ufffd" in expected and not strict_json.LONE_SURROGATE.search(expected)
    assert strict_json.dumps_text([text]).encode("utf-8")


def test_text_without_surrogates_is_sent_unchanged() -> None:
    value = {"name": "Café \U0001f600 ✓", "x": float("inf")}
    assert StrictJSONResponse(value).body == '{"name":"Café \U0001f600 ✓","x":null}'.encode()


def test_cant_get_a_500_from_a_surrogate_in_any_response(faulty: TestClient) -> None:
    response = faulty.get("/test/surrogate")
    assert response.status_code == 200
    answer = response.json()
    assert answer.pop("name") == "bad\ufffdname"
    assert answer.pop("fine") == "\U0001f600"
    [(key, value)] = answer.items()  # FastAPI's own encoder may already replace the key
    assert "\ufffd" in key and value == ["x\ufffd"]


# -- input holding a surrogate is refused and not stored -------------------------------------


def strategy_body(name: str = '"a"', code: str = json.dumps(CODE)) -> str:
    return f'{{"name": {name}, "code": {code}}}'


def run_body(params: str = "{}", dataset: str = json.dumps(SAMPLE_NAME)) -> str:
    return f'{{"code": {json.dumps(CODE)}, "dataset": {dataset}, "params": {params}}}'


def post_json(client: TestClient, path: str, raw: str) -> object:
    return client.post(path, content=raw.encode(), headers={"content-type": "application/json"})


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/api/strategies", strategy_body(name='"a\\ud800"'), "name"),
        ("/api/strategies", strategy_body(code='"x = 1  # \\udc00"'), "code"),
        # a parameter name is never a string check in pydantic (dict keys), but can never
        # match one: the source's names are printable (SB702), so it is an unknown parameter
        ("/api/runs", run_body(params='{"\\udfff": 1}'), "unknown parameter '\ufffd'"),
        ("/api/runs", run_body(params='{"p": "\\ud83d"}'), "params"),
        ("/api/runs", run_body(dataset='"\\udcff"'), "dataset"),
        ("/api/validate", '{"code": "x = \'\\ud800\'"}', "code"),
        ("/api/validate", '{"code": "\\ude00\\ud83d"}', "code"),
    ],
)  # fmt: skip
def test_json_input_holding_a_lone_surrogate_is_refused_with_a_422(
    client: TestClient, path: str, raw: str, field: str
) -> None:
    response = post_json(client, path, raw)
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    assert field in response.text  # type: ignore[attr-defined]
    assert "valid string" in response.text or "unknown parameter" in response.text  # type: ignore[attr-defined]
    assert not strict_json.LONE_SURROGATE.search(response.text)  # type: ignore[attr-defined]
    assert client.get("/api/strategies").json() == []
    assert not client.get("/api/runs").json()


def test_a_valid_surrogate_pair_escape_is_an_ordinary_character(client: TestClient) -> None:
    response = post_json(client, "/api/strategies", strategy_body(name='"smile \\ud83d\\ude00"'))
    assert response.status_code == 201, response.text  # type: ignore[attr-defined]
    assert response.json()["name"] == "smile \U0001f600"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "disposition",
    [
        'filename="a\xed\xa0\x80.py"',  # a surrogate's UTF-8-style bytes (invalid UTF-8)
        'filename="a\\ud800.py"',  # an escape, which multipart does not interpret
        "filename*=UTF-8''a%ED%A0%80.py",  # RFC 5987 percent-encoded surrogate bytes
    ],
)
def test_an_upload_whose_file_name_holds_surrogate_bytes_is_never_a_500_nor_stored_raw(
    client: TestClient, disposition: str
) -> None:
    head = (
        f'--B\r\nContent-Disposition: form-data; name="file"; {disposition}\r\n'
        "Content-Type: text/x-python\r\n\r\n"
    )
    body = head.encode("latin-1") + CODE.encode() + b"\r\n--B--\r\n"
    response = client.post(
        "/api/strategies/upload",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=B"},
    )
    assert response.status_code in (201, 415, 422), response.text
    for strategy in client.get("/api/strategies").json():
        assert not strict_json.LONE_SURROGATE.search(strategy["name"])
        strategy["name"].encode("utf-8")


# -- even an unhandled exception's 500 carries the security headers --------------------------


def test_an_unhandled_exceptions_500_carries_the_security_headers(faulty: TestClient) -> None:
    response = faulty.get("/test/raises")
    assert response.status_code == 500
    for name, value in security_headers("/test/raises").items():
        assert response.headers.get(name) == value, name
    assert response.headers["content-security-policy"] == UI_POLICY


def test_an_unhandled_exception_still_reaches_the_server_log(
    app_with_faults: TestClient,
) -> None:
    """The headers layer adds headers only: the exception is re-raised to the server as before."""
    with (
        LoopbackClient(app_with_faults.app) as client,
        pytest.raises(RuntimeError, match="unhandled"),
    ):
        client.get("/test/raises")
