"""metrics: Metrics Dictionary definitions and import runs

Revision ID: 0002_metrics
Revises: 0001_foundation
Create Date: 2026-11-27 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_metrics"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_definitions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key_path", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("product_group", sa.String(length=128), nullable=True),
        sa.Column("product_categories", sa.JSON(), nullable=False),
        sa.Column("time_frames", sa.JSON(), nullable=False),
        sa.Column("data_source", sa.String(length=32), nullable=True),
        sa.Column("data_category", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("performance_indicator_types", sa.JSON(), nullable=False),
        sa.Column("is_health_metric", sa.Boolean(), nullable=False),
        sa.Column("milestone", sa.String(length=32), nullable=True),
        sa.Column("milestone_removed", sa.String(length=32), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("value_type", sa.String(length=16), nullable=True),
        sa.Column("instrumentation_class", sa.String(length=255), nullable=True),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_definitions")),
        sa.UniqueConstraint("key_path", name=op.f("uq_metric_definitions_key_path")),
    )
    with op.batch_alter_table("metric_definitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_definitions_product_group"), ["product_group"], unique=False)
        batch_op.create_index(batch_op.f("ix_metric_definitions_status"), ["status"], unique=False)

    op.create_table(
        "metric_imports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("definitions", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("problems", sa.Integer(), nullable=False),
        sa.Column("dictionary_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_imports")),
    )


def downgrade() -> None:
    op.drop_table("metric_imports")
    with op.batch_alter_table("metric_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_definitions_status"))
        batch_op.drop_index(batch_op.f("ix_metric_definitions_product_group"))
    op.drop_table("metric_definitions")
