"""Checkpoints of long runs: no schema change, a fixed place in the revision chain.

A run's checkpoints live in its run folder (`<runs_dir>/<run_id>/checkpoints/`, see
app/runs/checkpoints.py) and its checkpoint settings in its stored config
(`checkpoint_every`, `keep_checkpoints`), so the database needs no new column; this revision
keeps the numbering of the chain whole (0006 revises it).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 17:40:00.000000
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: checkpoints are files of the run folder."""


def downgrade() -> None:
    """Nothing to undo."""
