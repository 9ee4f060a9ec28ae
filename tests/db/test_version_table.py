"""The schema revision lives in its own table, so Optuna's studies can share the database: a
database made before the move is carried over, and Optuna's `alembic_version` is left alone."""

from __future__ import annotations

from pathlib import Path

import optuna
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from app.db import make_engine, migrate
from app.db.migrations import VERSION_TABLE
from app.db.session import alembic_config


def head_revision(engine: Engine) -> str:
    """The newest revision of the app's migrations."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head is not None
    return head


def test_an_old_database_moves_its_revision_and_gains_the_sweep_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    command.upgrade(alembic_config(engine), "0002")  # what revision 0002 made
    with engine.begin() as connection:  # ... under the old version table's name
        connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('0002')"))
    assert "sweeps" not in inspect(engine).get_table_names()
    migrate(engine)
    tables = set(inspect(engine).get_table_names())
    assert {"sweeps", "sweep_trials", VERSION_TABLE} <= tables
    assert "alembic_version" not in tables
    with engine.connect() as connection:
        assert connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all() == [
            (head_revision(engine),)
        ]
    engine.dispose()


def test_an_optuna_study_and_the_app_share_one_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    engine = make_engine(url)
    migrate(engine)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(url)
    study = optuna.create_study(storage=storage, study_name="s")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=2)
    migrate(engine)  # a restart: our revision is untouched by Optuna's, and Optuna's by ours
    assert len(optuna.load_study(storage=storage, study_name="s").trials) == 2
    storage.engine.dispose()
    with engine.connect() as connection:
        ours = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
        theirs = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert ours == head_revision(engine) and theirs is not None and not str(theirs).startswith("00")
    engine.dispose()
