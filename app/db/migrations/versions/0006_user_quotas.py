"""Per-user quota overrides set by the operator (defaults live in Settings).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 17:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db.models import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_quotas",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("concurrent_runs", sa.Integer(), nullable=True),
        sa.Column("cpu_seconds_per_day", sa.Float(), nullable=True),
        sa.Column("storage_mb", sa.Integer(), nullable=True),
        sa.Column("sweep_trials", sa.Integer(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("user_quotas")
