"""Strict JSON everywhere: a non-finite number already stored (a parameter default of 1e999,
a metric of inf) is answered as null, never as a 500 and never as the non-standard Infinity."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app import strict_json
from app.api.responses import StrictJSONResponse
from app.db import RunStatus, crud, session_scope
from tests.jobs.fixtures import queued_run

OVERFLOWING = (
    "class Huge(Strategy):\n"
    '    params = {"x": 1e999, "y": -1e999, "z": 2}\n'
    "    def on_data(self, bar):\n"
    "        pass\n"
)


def strict_loads(text: str | bytes) -> Any:
    """json.loads that refuses Infinity, -Infinity and NaN, as a browser's JSON.parse does."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def test_a_stored_overflowing_param_reads_back_as_null(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with session_scope(engine) as session:  # stored as if before validation refused it
        strategy, _ = crud.create_strategy(session, name="huge", code=OVERFLOWING)
        strategy_id = strategy.id
    for path in (f"/api/strategies/{strategy_id}", f"/api/strategies/{strategy_id}?version=1"):
        response = client.get(path)
        assert response.status_code == 200, response.text
        params = strict_loads(response.content)["params"]
        # the overflowed defaults are gone or null (whichever the source inspection gives)
        assert params["z"] == 2 and {params.get("x"), params.get("y")} == {None}
    assert client.get("/api/strategies").status_code == 200


def test_a_run_with_non_finite_values_reads_back_as_null(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    run = queued_run(OVERFLOWING)
    run.params = {"x": math.inf, "z": 2}
    run.status = RunStatus.DONE
    run.metrics = {"sharpe": math.nan, "profit_factor": math.inf, "trades": 3}
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    for path in (f"/api/runs/{run.id}", "/api/runs"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        strict_loads(response.content)
    detail = client.get(f"/api/runs/{run.id}").json()
    assert detail["params"]["x"] is None and detail["metrics"]["profit_factor"] is None
    with client.websocket_connect(f"/ws/runs/{run.id}") as websocket:
        texts = []
        try:
            while True:
                texts.append(websocket.receive_text())
        except Exception:  # the server closes the socket after the last message
            pass
    done = [strict_loads(text) for text in texts][-1]
    assert done["type"] == "done" and done["metrics"]["sharpe"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (math.inf, None),
        ({"a": [1.5, -math.inf, {"b": math.nan}]}, {"a": [1.5, None, {"b": None}]}),
        ((math.nan, 2), [None, 2]),
        ({"ok": 1e308, "s": "Infinity"}, {"ok": 1e308, "s": "Infinity"}),
    ],
)
def test_non_finite_numbers_are_written_as_null(value: Any, expected: Any) -> None:
    assert strict_loads(strict_json.dumps(value)) == expected
    body = StrictJSONResponse(value).body
    assert strict_loads(bytes(body)) == expected


def test_finite_documents_are_written_as_json_would() -> None:
    document = {"a": [1, 2.5, "é", None, True], "b": {"c": -0.0}}
    assert strict_json.dumps(document, sort_keys=True) == json.dumps(document, sort_keys=True)
