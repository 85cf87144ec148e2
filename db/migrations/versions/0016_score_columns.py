"""account_scores: narrow columns (`scoring.stored.columns`) views sort, count and compare on in SQL

Home sorts and counts every account of a scope on a few figures and shows one page; alerts compare two months
on a few figures and look further only at the accounts where one moved. With these columns neither decodes
`summary` / `detail` for every account. Rows written before have them empty and an older format in their
fingerprint (`scoring.stored.SCORE_FORMAT`), so they read as stale until the next rescore writes them.

Revision ID: 0016_score_columns
Revises: 0015_score_inputs
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_score_columns"
down_revision = "0015_score_inputs"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("utilization", sa.Float()),
    ("unknown_instances", sa.Integer()),
    ("purchase_intent", sa.Boolean()),
    ("scm_color", sa.String(8)),
    ("ci_color", sa.String(8)),
    ("cd_color", sa.String(8)),
    ("security_color", sa.String(8)),
    ("engagement_color", sa.String(8)),
    ("license_value", sa.Float()),
    ("age_months", sa.Integer()),
    ("active", sa.Boolean()),
    ("pinged", sa.Text()),
)


# PostgreSQL answers Home's and alerts' narrow reads from this index alone (an index-only scan, once vacuum
# has marked the pages visible) instead of one heap page per account; SQLite keeps the key columns only.
INCLUDED = ["account_id", "health_color", *(name for name, _ in _COLUMNS)]


def upgrade() -> None:
    with op.batch_alter_table("account_scores") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    op.create_index("ix_account_scores_narrow", "account_scores", ["month", "fingerprint"], postgresql_include=INCLUDED)


def downgrade() -> None:
    op.drop_index("ix_account_scores_narrow", table_name="account_scores")
    with op.batch_alter_table("account_scores") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
