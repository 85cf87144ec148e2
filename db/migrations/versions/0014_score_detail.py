"""account_scores.detail: primary instances, pings and subscriptions apart from what portfolio views show

A portfolio of every account reads one small JSON per account; alerts and the health trend read the rest.

Revision ID: 0014_score_detail
Revises: 0013_scores
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_score_detail"
down_revision = "0013_scores"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account_scores") as batch:
        batch.add_column(sa.Column("detail", sa.JSON(), nullable=True))
    # Rows written before the split hold everything in `summary`: drop them, the next rescore writes both.
    op.execute("DELETE FROM account_scores")


def downgrade() -> None:
    op.execute("DELETE FROM account_scores")
    with op.batch_alter_table("account_scores") as batch:
        batch.drop_column("detail")
