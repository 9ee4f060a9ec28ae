"""Dataset import from the UI: upload, check (the report, nothing stored), store or discard."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from app.api.routes.dataset_uploads import DATASET_UPLOADS_PATH
from app.auth.audit import AuditAction, list_events
from app.data.datasets import import_rows
from app.data.parquet import write_ohlcv_parquet
from app.data.samples import generate_ohlcv
from app.data.store import DatasetSpec, DatasetStore
from app.data.uploads import MAX_STAGED_PER_USER
from app.db import RunStatus, session_scope
from app.main import create_app
from tests.api.accounts_support import accounts_client, add_user, app_engine, bearer
from tests.api.conftest import LoopbackClient
from tests.jobs.fixtures import make_settings, queued_run, write_sample


def hourly_csv(rows: int = 48, *, header: str = "time,open,high,low,close,volume") -> str:
    """`rows` clean hourly bars from 2024-01-01 00:00 UTC."""
    first = datetime(2024, 1, 1, tzinfo=UTC)
    lines = [header]
    for hour in range(rows):
        moment = (first + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%SZ")
        price = 100 + hour % 50
        lines.append(f"{moment},{price},{price + 2},{price - 1},{price + 1},5")
    return "\n".join(lines) + "\n"


def upload(client: TestClient, text: str, name: str = "bars.csv", **fields: Any) -> Any:
    headers = fields.pop("headers", None)
    form = {"symbol": "ABCUSDT", **fields}
    files = {"file": (name, text.encode(), "text/csv")}
    return client.post(DATASET_UPLOADS_PATH, data=form, files=files, headers=headers)


def stored(data_dir: Path, symbol: str = "ABCUSDT") -> list[str]:
    """The stored versions of `symbol`'s datasets."""
    store = DatasetStore(data_dir / "store")
    return [str(meta.ref) for meta in store.datasets() if meta.symbol == symbol]


def staged_folders(data_dir: Path) -> list[Path]:
    return list((data_dir / "uploads").glob("*/*"))


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    """One server for the tests that each use their own symbol (starting one costs seconds)."""
    data_dir = tmp_path_factory.mktemp("uploads")
    write_sample(data_dir)
    with LoopbackClient(create_app(make_settings(data_dir, workers=1))) as test_client:
        yield test_client, data_dir


@pytest.fixture
def client(shared: tuple[TestClient, Path]) -> TestClient:
    return shared[0]


@pytest.fixture
def data_dir(shared: tuple[TestClient, Path]) -> Path:
    """The shared server's data folder, with no staged uploads left by an earlier test."""
    for folder in staged_folders(shared[1]):
        shutil.rmtree(folder)
    return shared[1]


def test_a_good_csv_is_checked_then_stored_and_listed(client: TestClient, data_dir: Path) -> None:
    checked = upload(client, hourly_csv(48))
    assert checked.status_code == 201, checked.text
    report = checked.json()
    assert report["dataset"] == "ABCUSDT/1h" and report["timeframe"] == "1h"  # inferred
    assert report["rows"] == 48 and report["is_storable"] and report["problems"] == []
    assert report["first_bar"].startswith("2024-01-01T00:00:00")
    assert report["last_bar"].startswith("2024-01-02T23:00:00")
    assert report["columns"] == ["time", "open", "high", "low", "close", "volume"]
    assert stored(data_dir) == []  # nothing stored by the check
    answer = client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store")
    assert answer.status_code == 200, answer.text
    dataset = answer.json()["dataset"]
    assert dataset["name"] == "ABCUSDT/1h@1" and dataset["rows"] == 48
    names = [entry["name"] for entry in client.get("/api/datasets").json()]
    assert "ABCUSDT/1h@1" in names
    assert staged_folders(data_dir) == []  # the staged file is gone once stored
    again = client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store")
    assert again.status_code == 404


def test_problems_are_reported_and_nothing_is_stored_until_store(
    client: TestClient, data_dir: Path
) -> None:
    lines = hourly_csv(30).splitlines()
    del lines[10:13]  # a three-bar gap
    lines.append(lines[5])  # an exact duplicate of a bar
    report = upload(client, "\n".join(lines) + "\n", symbol="GAPUSDT", timeframe="1h").json()
    assert report["gap_bars"] == 3 and report["duplicate_bars"] >= 1
    codes = {problem["code"] for problem in report["problems"]}
    assert {"gap", "duplicate_bars"} <= codes
    assert all(problem["message"] for problem in report["problems"])
    assert "warning" in report["summary"]
    assert stored(data_dir, "GAPUSDT") == []
    assert client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store").status_code == 200
    assert stored(data_dir, "GAPUSDT") == ["GAPUSDT/1h@1"]


def test_fatal_problems_refuse_store_and_keep_the_upload(
    client: TestClient, data_dir: Path
) -> None:
    lines = hourly_csv(10).splitlines()
    lines[4] = "2024-01-01T03:00:00Z,100,90,95,96,5"  # high below low
    report = upload(client, "\n".join(lines) + "\n", symbol="BADUSDT").json()
    assert not report["is_storable"] and report["problems"][0]["severity"] == "error"
    answer = client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store")
    assert answer.status_code == 422 and "not imported" in answer.json()["detail"]
    assert stored(data_dir, "BADUSDT") == [] and len(staged_folders(data_dir)) == 1


def test_cancel_leaves_nothing(client: TestClient, data_dir: Path) -> None:
    report = upload(client, hourly_csv(24), symbol="CANUSDT").json()
    assert client.delete(f"{DATASET_UPLOADS_PATH}/{report['id']}").status_code == 204
    assert stored(data_dir, "CANUSDT") == [] and staged_folders(data_dir) == []
    assert client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store").status_code == 404


def test_unusual_column_names_are_mapped(client: TestClient, data_dir: Path) -> None:
    text = hourly_csv(24, header="Zeit,Eröffnung,Hoch,Tief,Schluss,Menge")
    refused = upload(client, text, symbol="MAPUSDT")
    assert refused.status_code == 422
    assert "missing the column(s) time" in refused.json()["detail"]
    assert "bars.csv" in refused.json()["detail"] and str(data_dir) not in refused.text
    mapping = "Zeit=time, Eröffnung=open, Hoch=high\nTief=low,Schluss=close,Menge=volume"
    report = upload(client, text, symbol="MAPUSDT", map=mapping).json()
    assert report["mapping"] == {
        "Zeit": "time",
        "Eröffnung": "open",
        "Hoch": "high",
        "Tief": "low",
        "Schluss": "close",
        "Menge": "volume",
    }
    assert report["rows"] == 24 and report["is_storable"]
    assert client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store").status_code == 200


@pytest.mark.parametrize(
    ("name", "fields", "status", "words"),
    [
        ("bars.exe", {}, 415, "data file ending in"),
        ("bars.csv", {"map": "close"}, 422, "SOURCE=TARGET"),
        ("bars.csv", {"market": "options"}, 422, "market"),
        ("bars.csv", {"symbol": "no good!"}, 422, "not a usable symbol"),
    ],
)
def test_bad_input_is_one_sentence(
    client: TestClient, data_dir: Path, name: str, fields: dict[str, str], status: int, words: str
) -> None:
    answer = upload(client, hourly_csv(5), name, **fields)
    assert answer.status_code == status and words in answer.text
    assert "Traceback" not in answer.text and staged_folders(data_dir) == []


def test_a_missing_symbol_is_reported_before_store(client: TestClient) -> None:
    report = upload(client, hourly_csv(5), symbol="").json()
    assert report["dataset"] is None and "symbol" in report["missing"][0]
    answer = client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store")
    assert answer.status_code == 422 and "fill in the symbol" in answer.text


def test_the_upload_has_its_own_limit_and_oversize_is_refused(tmp_path: Path) -> None:
    write_sample(tmp_path)
    settings = make_settings(
        tmp_path,
        request_max_bytes=66_560,  # the smallest the strategy upload limit of 1 kB allows
        upload_max_bytes=1024,
        dataset_upload_max_bytes=100_000,
    )
    with LoopbackClient(create_app(settings)) as client:
        larger = upload(client, hourly_csv(2000))  # ~90 kB: over any other request's limit
        assert larger.status_code == 201, larger.text
        assert larger.json()["rows"] == 2000
        assert client.post("/api/validate", content=b"x" * 80_000).status_code == 413
        too_large = upload(client, hourly_csv(4000))  # ~180 kB
        assert too_large.status_code == 413 and "100,000 byte limit" in too_large.text
    assert [folder.name for folder in staged_folders(tmp_path)] == [larger.json()["id"]]


def test_another_users_upload_is_404_and_stored_data_is_theirs(tmp_path: Path) -> None:
    write_sample(tmp_path)
    with accounts_client(tmp_path) as client:
        alice, bob = add_user(client, "alice"), add_user(client, "bob")
        a_auth, b_auth = bearer(client, alice), bearer(client, bob)
        report = upload(client, hourly_csv(24), headers=a_auth).json()
        url = f"{DATASET_UPLOADS_PATH}/{report['id']}"
        assert client.post(f"{url}/store", headers=b_auth).status_code == 404
        assert client.delete(url, headers=b_auth).status_code == 404
        assert client.post(f"{url}/store", headers=a_auth).status_code == 200
        listed = {
            who: client.get("/api/datasets", headers=auth).text
            for who, auth in (("a", a_auth), ("b", b_auth))
        }
        assert "ABCUSDT/1h" in listed["a"] and "ABCUSDT/1h" not in listed["b"]
        theirs = upload(client, hourly_csv(30), headers=b_auth).json()
        refused = client.post(f"{DATASET_UPLOADS_PATH}/{theirs['id']}/store", headers=b_auth)
        assert refused.status_code == 409 and "belongs to another user" in refused.text
        with session_scope(app_engine(client)) as session:
            events = list_events(session, action=AuditAction.DATASET_IMPORTED)
            assert [event.target for event in events] == ["dataset ABCUSDT/1h@1"]
        # a dataset the operator imported (nobody claimed it) is shared and read-only
        operator = upload(client, hourly_csv(24), symbol="OPSUSDT", headers=a_auth).json()
        import_rows(
            DatasetStore(tmp_path / "store"),
            pd.read_csv(io.StringIO(hourly_csv(10)), parse_dates=["time"]),
            DatasetSpec(symbol="OPSUSDT", timeframe="1h"),
        )
        shared = client.post(f"{DATASET_UPLOADS_PATH}/{operator['id']}/store", headers=a_auth)
        assert shared.status_code == 409 and "shared dataset, read-only" in shared.text
        assert "OPSUSDT/1h" in client.get("/api/datasets", headers=b_auth).text


def test_expired_uploads_are_removed(client: TestClient, data_dir: Path) -> None:
    report = upload(client, hourly_csv(5)).json()
    meta = next(iter(staged_folders(data_dir))) / "upload.json"
    record = json.loads(meta.read_text())
    meta.write_text(json.dumps({**record, "created_at": record["created_at"] - 3601}))
    answer = client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store")
    assert answer.status_code == 404 and "expire" in answer.text
    assert staged_folders(data_dir) == []


def test_a_parquet_file_is_checked_by_its_schema(client: TestClient, tmp_path: Path) -> None:
    path = tmp_path / "bars.parquet"
    write_ohlcv_parquet(generate_ohlcv(bars=30, timeframe="15m", start="2024-02-01"), path)
    answer = client.post(
        DATASET_UPLOADS_PATH,
        data={"symbol": "PQUSDT"},
        files={"file": ("bars.parquet", path.read_bytes(), "application/octet-stream")},
    )
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["dataset"] == "PQUSDT/15m" and report["rows"] == 30
    assert report["mapping"]["time"] == "time" and report["is_storable"]
    broken = client.post(
        DATASET_UPLOADS_PATH,
        data={"symbol": "PQUSDT"},
        files={"file": ("broken.parquet", b"PAR1 not really", "application/octet-stream")},
    )
    assert broken.status_code == 422 and "broken.parquet is not a readable Parquet" in broken.text


def test_a_user_keeps_only_the_latest_few_uploads(client: TestClient, data_dir: Path) -> None:
    ids = [upload(client, hourly_csv(5), symbol="KEEPUSDT").json()["id"] for _ in range(6)]
    kept = sorted(folder.name for folder in staged_folders(data_dir))
    assert kept == sorted(ids[-MAX_STAGED_PER_USER:])
    assert client.post(f"{DATASET_UPLOADS_PATH}/{ids[0]}/store").status_code == 404


def test_a_user_over_the_storage_quota_stores_nothing(tmp_path: Path) -> None:
    write_sample(tmp_path)
    with accounts_client(tmp_path, quota_storage_mb=1) as client:
        alice = add_user(client, "alice")
        auth = bearer(client, alice)
        report = upload(client, hourly_csv(24), headers=auth).json()
        run = queued_run("x = 1")
        run.owner_id, run.status = alice, RunStatus.DONE
        with session_scope(app_engine(client)) as session:
            session.add(run)
        (tmp_path / "runs" / run.id).mkdir(parents=True)
        (tmp_path / "runs" / run.id / "equity.bin").write_bytes(b"\0" * (1024 * 1024 + 1))
        refused = client.post(f"{DATASET_UPLOADS_PATH}/{report['id']}/store", headers=auth)
        assert refused.status_code == 429 and "your limit is 1 MiB" in refused.text
        assert stored(tmp_path) == []
