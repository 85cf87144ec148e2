"""home: who opened the App Home tab and what they last looked at

Revision ID: 0008_home
Revises: 0001_foundation
Create Date: 2026-11-27 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_home"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "home_viewers",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_home_viewers")),
    )
    op.create_index(op.f("ix_home_viewers_email"), "home_viewers", ["email"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_home_viewers_email"), table_name="home_viewers")
    op.drop_table("home_viewers")
