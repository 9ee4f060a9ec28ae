"""The stored Optuna study of a sweep: its storage, its identity, and what resuming checks.

A study lives in an Optuna RDB storage (a SQLite file by default, PostgreSQL on a server).
Its `sweep` user attribute holds the sweep's identity: the search space, method, objectives,
constraints, seed, batch size and the hashes of the code, data and run config. A study is
only ever continued with an identical identity, so every trial in it answers the same
question; the trial budget (`n_trials`) may grow on resume.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, Literal

from app.research.errors import ResearchInputError

if TYPE_CHECKING:
    from optuna import Study
    from optuna.storages import BaseStorage

IDENTITY_ATTR: Final = "sweep"
IDENTITY_VERSION: Final = 1
SQLITE_TIMEOUT_S: Final = 60.0
"""How long a SQLite writer waits for a lock held by another process before failing, s."""


def open_storage(url: str) -> BaseStorage:
    """The Optuna RDB storage at `url` (sqlite:///path, postgresql+psycopg://...).

    ResearchInputError("storage") when the URL is malformed or the database cannot be reached.
    """
    import sqlalchemy.exc
    from optuna.storages import RDBStorage

    engine_kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        from sqlalchemy.pool import QueuePool

        # Kept open between Optuna's many short sessions: closing the last connection of a
        # write-ahead-logged database checkpoints it (a disk sync per session otherwise). The
        # pool hands a connection to one thread at a time, so any thread may use it.
        engine_kwargs["poolclass"] = QueuePool
        engine_kwargs["connect_args"] = {"timeout": SQLITE_TIMEOUT_S, "check_same_thread": False}
    try:
        storage = RDBStorage(url, engine_kwargs=engine_kwargs)
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as error:
        raise ResearchInputError("storage", f"{url!r} is not a database URL ({error})") from None
    except sqlalchemy.exc.OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "no answer"
        raise ResearchInputError(
            "storage", f"cannot open the study storage {url!r}: {reason}"
        ) from None
    if url.startswith("sqlite"):
        _write_ahead(storage.engine)
        # Optuna never disposes its engine: close the pooled connections when the storage
        # goes (a ResourceWarning otherwise); `close_storage` does it at once.
        weakref.finalize(storage, storage.engine.dispose)
    return storage


def _write_ahead(engine: Any) -> None:
    """SQLite in write-ahead-log mode with `synchronous=NORMAL` for every connection: a commit
    appends to the log without waiting for the disk (a sweep commits several times per
    trial), and a killed process still loses no committed trial (only a power cut can lose
    the last commits, never corrupt the file)."""
    from sqlalchemy import event

    def on_connect(connection: Any, _record: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    event.listen(engine, "connect", on_connect)
    engine.dispose()  # connections opened while creating the schema reconnect with it


@contextmanager
def storage_at(url: str) -> Iterator[BaseStorage]:
    """`open_storage(url)` for the duration; its database connections closed after."""
    storage = open_storage(url)
    try:
        yield storage
    finally:
        close_storage(storage)


def close_storage(storage: BaseStorage) -> None:
    """Close the database connections of an RDB storage (a no-op for any other)."""
    engine = getattr(storage, "engine", None)
    if engine is not None:
        storage.remove_session()
        engine.dispose()


def study_exists(storage: BaseStorage, study_name: str) -> bool:
    """True when `storage` holds a study named `study_name`."""
    return any(summary.study_name == study_name for summary in storage.get_all_studies())


def open_study(
    storage: BaseStorage,
    study_name: str,
    *,
    identity: dict[str, Any],
    directions: list[Literal["maximize", "minimize"]],
) -> Study:
    """The study `study_name`: created with `identity` when new, else loaded after checking
    that its stored identity equals `identity` (ResearchInputError("resume") naming what
    differs when it does not)."""
    import optuna

    if not study_exists(storage, study_name):
        study = optuna.create_study(storage=storage, study_name=study_name, directions=directions)
        study.set_user_attr(IDENTITY_ATTR, identity)
        return study
    study = optuna.load_study(study_name=study_name, storage=storage)
    stored = study.user_attrs.get(IDENTITY_ATTR)
    if not isinstance(stored, dict):
        raise ResearchInputError(
            "resume",
            f"the study {study_name!r} was not made by a Strategy Lab sweep; "
            "use another --out or --study-name",
        )
    different = differences(stored, identity)
    if different:
        raise ResearchInputError(
            "resume",
            f"the stored study {study_name!r} was run with another {', '.join(different)}; "
            "resume with the same inputs, or start a new sweep with another --out",
        )
    return study


IDENTITY_WORDS: Final = {
    "version": "sweep format",
    "space": "--param ranges",
    "method": "--method",
    "objectives": "objective",
    "constraints": "constraints",
    "seed": "--seed",
    "batch_size": "batch size",
    "strategy_class": "strategy class",
    "code_sha256": "strategy code",
    "data_sha256": "data",
    "config_sha256": "run options (config)",
}


def differences(stored: dict[str, Any], wanted: dict[str, Any]) -> list[str]:
    """What differs between two identities, in words (empty when they are equal)."""
    keys = sorted(
        set(stored) | set(wanted),
        key=lambda key: (
            list(IDENTITY_WORDS).index(key) if key in IDENTITY_WORDS else len(IDENTITY_WORDS)
        ),
    )
    return [IDENTITY_WORDS.get(key, key) for key in keys if stored.get(key) != wanted.get(key)]


__all__ = [
    "IDENTITY_ATTR",
    "close_storage",
    "differences",
    "open_storage",
    "open_study",
    "storage_at",
    "study_exists",
]
