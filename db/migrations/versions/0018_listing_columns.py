"""account_scores: what `/usage mine|team` filter on, in narrow columns, and the score in the narrow index

`/usage team` lists a whole book worst first by colour, then score, and filters on colours, tiers and flags.
With the License utilization colour, the month's product tiers and the flag kinds in columns
(`scoring.stored.columns`), and those and the score in `ix_account_scores_narrow`, PostgreSQL answers from
the index alone and only the page shown has its `summary` decoded. Rows written before have the new columns
empty and an older format in their fingerprint (`scoring.stored.SCORE_FORMAT` 3), so they read as stale until
the next rescore writes them. SQLite keeps the key columns only in the index, as before.

Revision ID: 0018_listing_columns
Revises: 0017_metric_layouts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_listing_columns"
down_revision = "0017_metric_layouts"
branch_labels = None
depends_on = None

_COLUMNS = (("license_color", sa.String(8)), ("tiers", sa.Text()), ("flag_kinds", sa.Text()))
_BEFORE = [
    "account_id",
    "health_color",
    "utilization",
    "unknown_instances",
    "purchase_intent",
    "scm_color",
    "ci_color",
    "cd_color",
    "security_color",
    "engagement_color",
    "license_value",
    "age_months",
    "active",
    "pinged",
]
_AFTER = [*_BEFORE[:2], "health_score", *_BEFORE[2:], *(name for name, _ in _COLUMNS)]


def _narrow_index(included: list[str]) -> None:
    op.drop_index("ix_account_scores_narrow", table_name="account_scores")
    op.create_index("ix_account_scores_narrow", "account_scores", ["month", "fingerprint"], postgresql_include=included)


def upgrade() -> None:
    with op.batch_alter_table("account_scores") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    _narrow_index(_AFTER)


def downgrade() -> None:
    _narrow_index(_BEFORE)
    with op.batch_alter_table("account_scores") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
