"""Alembic environment: runs migrations on the engine handed over in the config's attributes.

The app's schema revision lives in VERSION_TABLE, not alembic's default `alembic_version`:
Optuna keeps the sweeps' studies in the same database (app.jobs.sweeps) and stamps its own
schema revision in `alembic_version`, which it does not let us rename. A database made before
the move has our revision in `alembic_version`; it is carried over (and the old table dropped)
before anything else runs.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

import app.db.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from app.db.migrations import VERSION_TABLE

target_metadata = SQLModel.metadata
LEGACY_VERSION_TABLE = "alembic_version"
OWN_REVISION_PREFIX = "00"  # our revisions are "0001", "0002", ...; Optuna's are "v3.0.0.a"...


def carry_over_legacy_version(connection: Connection) -> None:
    """Move our revision from `alembic_version` to VERSION_TABLE (databases made before)."""
    tables = set(inspect(connection).get_table_names())
    if VERSION_TABLE in tables or LEGACY_VERSION_TABLE not in tables:
        return
    found = connection.execute(text(f"SELECT version_num FROM {LEGACY_VERSION_TABLE}")).all()
    revisions = [row[0] for row in found]
    if not revisions or not all(str(r).startswith(OWN_REVISION_PREFIX) for r in revisions):
        return  # empty, or Optuna's: ours starts from scratch in VERSION_TABLE
    connection.execute(
        text(
            f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
            f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))"
        )
    )
    for revision in revisions:
        connection.execute(
            text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:revision)"),
            {"revision": revision},
        )
    connection.execute(text(f"DROP TABLE {LEGACY_VERSION_TABLE}"))


def include_object(
    item: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Autogenerate compares only our tables (Optuna's share the database)."""
    return not (type_ == "table" and reflected and compare_to is None)


def run_migrations_online() -> None:
    """Apply migrations inside one transaction on the app's engine."""
    engine = context.config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("pass the engine as config.attributes['engine'] (see app.db.session)")
    with engine.connect() as connection:
        carry_over_legacy_version(connection)
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            version_table=VERSION_TABLE,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
