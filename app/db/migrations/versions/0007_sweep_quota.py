"""The per-user quota on sweeps (walk-forwards included) queued or running at once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("user_quotas") as batch:
        batch.add_column(sa.Column("concurrent_sweeps", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_quotas") as batch:
        batch.drop_column("concurrent_sweeps")
