"""What `/healthz` and every answer's "data as of" line need from the database."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.models import SyncRun, UsageMonthly


def ping(session: Session) -> None:
    session.execute(text("SELECT 1"))


def data_as_of(session: Session) -> date | None:
    """The latest month the data holds: the last successful sync's, else the newest usage row's."""
    as_of = session.scalar(
        select(SyncRun.as_of_month)
        .where(SyncRun.status == "succeeded", SyncRun.as_of_month.is_not(None))
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    if as_of is None:
        as_of = session.scalar(select(func.max(UsageMonthly.snapshot_month)))
    return as_of
