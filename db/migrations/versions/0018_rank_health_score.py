"""account_scores: the narrow index holds health_score too

`/usage team` and `/usage mine` list accounts worst first by colour, then score. With the score in the index,
PostgreSQL sorts and filters a whole book (20,000 accounts) from the index alone, and only the page shown has
its `summary` decoded. SQLite keeps the key columns only, as before.

Revision ID: 0018_rank_health_score
Revises: 0017_metric_layouts
"""

from __future__ import annotations

from alembic import op

revision = "0018_rank_health_score"
down_revision = "0017_metric_layouts"
branch_labels = None
depends_on = None

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
_AFTER = [*_BEFORE[:2], "health_score", *_BEFORE[2:]]


def _narrow_index(included: list[str]) -> None:
    op.drop_index("ix_account_scores_narrow", table_name="account_scores")
    op.create_index("ix_account_scores_narrow", "account_scores", ["month", "fingerprint"], postgresql_include=included)


def upgrade() -> None:
    _narrow_index(_AFTER)


def downgrade() -> None:
    _narrow_index(_BEFORE)
