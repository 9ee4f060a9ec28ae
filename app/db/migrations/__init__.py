"""The schema's alembic migrations; our revision is stamped in VERSION_TABLE (see env.py)."""

VERSION_TABLE = "strategylab_schema_version"
