"""usage_monthly: extra metrics as a list of values, their names kept once per export layout (metric_layouts)

An extra metric was stored under its warehouse name in every row: 25 names made about 850 of a row's 1,236
bytes, and a first load of 1.3 M rows wrote 1.6 GB. Rows now hold the values in the order of their layout's
names. Rows stored before keep their JSON object (read as before, `db.models.usage.extra_metric_values`)
until a sync rewrites them.

Revision ID: 0017_metric_layouts
Revises: 0016_score_columns
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0017_metric_layouts"
down_revision = "0016_score_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_layouts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_layouts")),
        sa.UniqueConstraint("digest", name=op.f("uq_metric_layouts_digest")),
    )
    op.add_column("usage_monthly", sa.Column("metric_layout_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    # Back to a JSON object per row, names and all, before the layouts go.
    conn = op.get_bind()
    layouts = conn.execute(sa.text("SELECT id, names FROM metric_layouts")).all()
    for layout_id, names in layouts:
        names = json.loads(names) if isinstance(names, str) else names
        rows = conn.execute(
            sa.text("SELECT id, extra_metrics FROM usage_monthly WHERE metric_layout_id = :l"), {"l": layout_id}
        ).all()
        updates = []
        for row_id, values in rows:
            values = json.loads(values) if isinstance(values, str) else values
            pairs = sorted((n, v) for n, v in zip(names, values or [], strict=False) if v is not None)
            updates.append({"i": row_id, "x": json.dumps(dict(pairs), separators=(",", ":"))})
        if updates:
            value = "CAST(:x AS json)" if conn.dialect.name == "postgresql" else ":x"
            conn.execute(sa.text(f"UPDATE usage_monthly SET extra_metrics = {value} WHERE id = :i"), updates)
    with op.batch_alter_table("usage_monthly", schema=None) as batch_op:
        batch_op.drop_column("metric_layout_id")
    op.drop_table("metric_layouts")
