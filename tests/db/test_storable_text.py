"""Text the database can't take (NUL, lone surrogates) is replaced on the way in and on the way
out, so a run can always be stored and always be served, rows written before included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.db import crud, make_engine, migrate, session_scope
from app.db.models import storable
from tests.jobs.fixtures import SMA_CODE, queued_run


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'text.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ok \x1b kept", "ok \x1b kept"),  # storable: escaping is the decoder's job
        ("\ud800", "\ufffd"),
        ("a\x00b", "a\ufffdb"),
        ({"k\udfff": ["\x00", 1, None]}, {"k\ufffd": ["\ufffd", 1, None]}),
    ],
)
def test_cant_store_text_a_database_refuses(value: object, expected: object) -> None:
    assert storable(value) == expected


def test_cant_store_a_run_whose_params_and_error_hold_surrogates(engine: Engine) -> None:
    run = queued_run(SMA_CODE)
    run.params = {"title\ud800": "x\x00y"}
    run.error = {"message": "boom \udcff", "line": None}
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with session_scope(engine) as session:
        stored = crud.get_run(session, run_id=run.id)
        assert stored.params == {"title\ufffd": "x\ufffdy"}
        assert stored.error == {"message": "boom \ufffd", "line": None}


def test_cant_serve_an_old_row_with_escaped_surrogates_as_they_are(engine: Engine) -> None:
    run = queued_run(SMA_CODE)
    with session_scope(engine) as session:
        crud.create_run(session, run=run)
    with engine.begin() as connection:  # JSON escapes pass any encoder: the row is stored raw
        connection.execute(
            text("UPDATE runs SET error = :error, config = :config WHERE id = :id"),
            {"error": '{"message": "\\ud800"}', "config": '{"symbol": "\\udfff"}', "id": run.id},
        )
    with session_scope(engine) as session:
        stored = crud.get_run(session, run_id=run.id)
        assert stored.error == {"message": "\ufffd"} and stored.config == {"symbol": "\ufffd"}
