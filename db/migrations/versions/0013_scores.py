"""account_scores: every account's figures per month, computed once per sync instead of on every view

Revision ID: 0013_scores
Revises: 0012_usage_without_fks
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_scores"
down_revision = "0012_usage_without_fks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_scores",
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("health_color", sa.String(length=8), nullable=False),
        sa.Column("health_score", sa.Float(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "month", name=op.f("pk_account_scores")),
    )
    op.create_index("ix_account_scores_month", "account_scores", ["month"])


def downgrade() -> None:
    op.drop_index("ix_account_scores_month", table_name="account_scores")
    op.drop_table("account_scores")
