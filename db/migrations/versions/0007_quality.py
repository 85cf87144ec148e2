"""quality: data-quality reports, alert records and alert mutes

Revision ID: 0007_quality
Revises: 0001_foundation
Create Date: 2026-11-27 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_quality"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_issues",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("instance_name", sa.String(length=512), nullable=True),
        sa.Column("metric", sa.String(length=255), nullable=True),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("reporter_id", sa.String(length=64), nullable=False),
        sa.Column("reporter_name", sa.String(length=255), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("as_of_month", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("thread_ts", sa.String(length=64), nullable=True),
        sa.Column("permalink", sa.Text(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("gitlab_status", sa.String(length=16), nullable=False),
        sa.Column("issue_iid", sa.Integer(), nullable=True),
        sa.Column("issue_url", sa.Text(), nullable=True),
        sa.Column("issue_linked", sa.Boolean(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_issues")),
        sa.UniqueConstraint("key", name=op.f("uq_data_issues_key")),
    )
    op.create_index(op.f("ix_data_issues_account_id"), "data_issues", ["account_id"], unique=False)

    op.create_table(
        "alert_records",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("measure", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("tam_email", sa.String(length=255), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("slack_channel", sa.String(length=64), nullable=True),
        sa.Column("slack_ts", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_records")),
        sa.UniqueConstraint(
            "account_id", "kind", "measure", "month", name=op.f("uq_alert_records_account_id_kind_measure_month")
        ),
    )
    op.create_index("ix_alert_records_status_tam", "alert_records", ["status", "tam_email"], unique=False)

    op.create_table(
        "alert_mutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("muted_by", sa.String(length=64), nullable=False),
        sa.Column("muted_by_name", sa.String(length=255), nullable=True),
        sa.Column("muted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_mutes")),
        sa.UniqueConstraint("account_id", name=op.f("uq_alert_mutes_account_id")),
    )


def downgrade() -> None:
    op.drop_table("alert_mutes")
    op.drop_index("ix_alert_records_status_tam", table_name="alert_records")
    op.drop_table("alert_records")
    op.drop_index(op.f("ix_data_issues_account_id"), table_name="data_issues")
    op.drop_table("data_issues")
