"""schedule: scheduled sync sources (fingerprint, reported failure) and TAMs' Slack time zones

Revision ID: 0010_schedule
Revises: 0009_merge_features
Create Date: 2026-11-30 03:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_schedule"
down_revision = "0009_merge_features"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_sources",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=True),
        sa.Column("succeeded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_key", sa.String(length=64), nullable=True),
        sa.Column("failure_reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sync_sources")),
    )
    with op.batch_alter_table("slack_user_cache") as batch:
        batch.add_column(sa.Column("tz", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slack_user_cache") as batch:
        batch.drop_column("tz")
    op.drop_table("sync_sources")
