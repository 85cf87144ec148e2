"""requests: metric requests, their requesters and the GitLab filing outbox

Revision ID: 0006_requests
Revises: 0001_foundation
Create Date: 2026-11-27 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_requests"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gitlab_filings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("on_filed", sa.String(length=64), nullable=True),
        sa.Column("on_filed_payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("issue_iid", sa.Integer(), nullable=True),
        sa.Column("issue_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("filed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("followed_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("follow_up_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gitlab_filings")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_gitlab_filings_idempotency_key")),
    )
    op.create_index(op.f("ix_gitlab_filings_kind"), "gitlab_filings", ["kind"], unique=False)
    op.create_index(
        "ix_gitlab_filings_status_next_attempt_at", "gitlab_filings", ["status", "next_attempt_at"], unique=False
    )

    op.create_table(
        "metric_requests",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("requester_id", sa.String(length=64), nullable=False),
        sa.Column("requester_name", sa.String(length=255), nullable=True),
        sa.Column("what", sa.Text(), nullable=False),
        sa.Column("normalized", sa.Text(), nullable=False),
        sa.Column("product_group", sa.String(length=128), nullable=True),
        sa.Column("count_kind", sa.String(length=32), nullable=True),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("account", sa.String(length=255), nullable=True),
        sa.Column("channel_id", sa.String(length=64), nullable=True),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answered_key_path", sa.String(length=512), nullable=True),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("duplicate_issue_url", sa.Text(), nullable=True),
        sa.Column("filing_key", sa.String(length=128), nullable=True),
        sa.Column("issue_iid", sa.Integer(), nullable=True),
        sa.Column("issue_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["metric_requests.id"],
            name=op.f("fk_metric_requests_duplicate_of_id_metric_requests"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_requests")),
        sa.UniqueConstraint("key", name=op.f("uq_metric_requests_key")),
    )
    op.create_index(op.f("ix_metric_requests_requester_id"), "metric_requests", ["requester_id"], unique=False)
    op.create_index(op.f("ix_metric_requests_status"), "metric_requests", ["status"], unique=False)

    op.create_table(
        "metric_request_requesters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("user_name", sa.String(length=255), nullable=True),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("noted_on_issue", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["metric_requests.id"],
            name=op.f("fk_metric_request_requesters_request_id_metric_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_request_requesters")),
        sa.UniqueConstraint("request_id", "user_id", name=op.f("uq_metric_request_requesters_request_id_user_id")),
    )
    op.create_index(
        op.f("ix_metric_request_requesters_request_id"), "metric_request_requesters", ["request_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_metric_request_requesters_request_id"), table_name="metric_request_requesters")
    op.drop_table("metric_request_requesters")
    op.drop_index(op.f("ix_metric_requests_status"), table_name="metric_requests")
    op.drop_index(op.f("ix_metric_requests_requester_id"), table_name="metric_requests")
    op.drop_table("metric_requests")
    op.drop_index("ix_gitlab_filings_status_next_attempt_at", table_name="gitlab_filings")
    op.drop_index(op.f("ix_gitlab_filings_kind"), table_name="gitlab_filings")
    op.drop_table("gitlab_filings")
