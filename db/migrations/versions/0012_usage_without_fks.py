"""usage_monthly without foreign keys: the sync checks every reference itself, set-based.

Each usage row's account, subscription and instance are checked by the sync before anything is
written (workflows/sync/bulk.py and validate.py), and nothing else writes usage rows. The three
per-row foreign-key triggers made loading a million rows about twice as slow and caught nothing
the sync had not already refused.

Revision ID: 0012_usage_without_fks
Revises: 0011_export_columns
"""

from __future__ import annotations

from alembic import op

revision = "0012_usage_without_fks"
down_revision = "0011_export_columns"
branch_labels = None
depends_on = None

_FKS = (
    ("fk_usage_monthly_account_id_accounts", "accounts", "account_id"),
    ("fk_usage_monthly_instance_id_instances", "instances", "instance_id"),
    ("fk_usage_monthly_subscription_id_subscriptions", "subscriptions", "subscription_id"),
)


def upgrade() -> None:
    with op.batch_alter_table("usage_monthly", schema=None) as batch_op:
        for name, _table, _column in _FKS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("usage_monthly", schema=None) as batch_op:
        for name, table, column in _FKS:
            batch_op.create_foreign_key(name, table, [column], ["id"])
