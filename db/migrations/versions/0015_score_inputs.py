"""account_scores.inputs: the digest of what each stored row was computed from

A rescore after a sync scores again only the account-months whose inputs changed. Rows written before have
no digest and are scored again by the next rescore.

Revision ID: 0015_score_inputs
Revises: 0014_score_detail
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_score_inputs"
down_revision = "0014_score_detail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("account_scores") as batch:
        batch.add_column(sa.Column("inputs", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account_scores") as batch:
        batch.drop_column("inputs")
