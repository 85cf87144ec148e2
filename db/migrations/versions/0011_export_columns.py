"""sync_runs.metric_columns: the metric columns each export had, so a missing one reads "not in the export"

Revision ID: 0011_export_columns
Revises: 0010_schedule
Create Date: 2026-11-30 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_export_columns"
down_revision = "0010_schedule"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("metric_columns", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("metric_columns")
