"""Reading usage rows' extra metrics by name: each row lists values, its metric layout holds their names."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from db.models.usage import MetricLayout, UsageMonthly, extra_metric_values


def layout_names(db: Session | Connection) -> dict[int, list[str]]:
    """Every stored layout's names by id (one per distinct set of extra columns an export had: a handful)."""
    return {i: list(names) for i, names in db.execute(select(MetricLayout.id, MetricLayout.names)).tuples()}


def row_extra_metrics(session: Session, row: UsageMonthly) -> dict[str, float | None]:
    """The row's extra metrics by warehouse name, those reported only."""
    layout = session.get(MetricLayout, row.metric_layout_id) if row.metric_layout_id is not None else None
    return extra_metric_values(row.extra_metrics, layout.names if layout is not None else ())
