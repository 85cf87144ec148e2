"""What `/healthz` and every answer's "data as of" line need from the database, in one cheap query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from db.models import Account, Instance, SyncRun, UsageMonthly


def ping(session: Session) -> None:
    session.execute(text("SELECT 1"))


@dataclass(frozen=True)
class DataStamp:
    """Changes whenever the data behind an answer can: a sync ran, or instances were added.

    Per-process caches of things derived from the whole data set (the newest version seen) key on it.
    """

    sync_id: int | None
    as_of: date | None  # the last successful sync's "as of" month
    max_instance_id: int | None


def data_stamp(session: Session) -> DataStamp:
    latest = (
        select(SyncRun.id, SyncRun.as_of_month)
        .where(SyncRun.status == "succeeded", SyncRun.as_of_month.is_not(None))
        .order_by(SyncRun.id.desc())
        .limit(1)
        .subquery()
    )
    row = session.execute(
        select(
            select(latest.c.id).scalar_subquery(),
            select(latest.c.as_of_month).scalar_subquery(),
            select(func.max(Instance.id)).scalar_subquery(),
        )
    ).one()
    return DataStamp(row[0], row[1], row[2])


def data_as_of(session: Session, stamp: DataStamp | None = None) -> date | None:
    """The latest month the data holds: the last successful sync's, else the newest usage row's."""
    as_of = (stamp or data_stamp(session)).as_of
    if as_of is None:
        as_of = newest_usage_month(session)
    return as_of


def _no_account(session: Session) -> bool:
    """No account is stored, so no usage row is either (each names a stored account; the sync checks it).

    Asked before any read of usage_monthly that may run while nothing is stored: a first load into an
    empty database holds that table's lock until it commits (workflows/sync/deferred_indexes.py), and a
    health check or a view must not wait minutes for it. Accounts are never locked that way.
    """
    return session.scalar(select(Account.id).limit(1)) is None


def newest_usage_month(session: Session) -> date | None:
    """The newest month any usage row is for; None when none is stored."""
    if _no_account(session):
        return None
    return session.scalar(select(func.max(UsageMonthly.snapshot_month)))


def export_metric_columns(session: Session) -> frozenset[str] | None:
    """The metric columns of the latest successful export; None when that sync did not record them."""
    cols = session.scalar(
        select(SyncRun.metric_columns)
        .where(SyncRun.status == "succeeded", SyncRun.as_of_month.is_not(None))
        .order_by(SyncRun.id.desc())
        .limit(1)
    )
    return None if cols is None else frozenset(cols)


def data_months(session: Session) -> tuple[date, date] | None:
    """(first, last) month with usage rows, or None when there are none."""
    if _no_account(session):
        return None
    first, last = session.execute(
        select(func.min(UsageMonthly.snapshot_month), func.max(UsageMonthly.snapshot_month))
    ).one()
    return None if first is None else (first, last)


def month_has_data(session: Session, month: date) -> bool:
    """Whether any usage row is for `month` (first of the month)."""
    hit = session.execute(select(UsageMonthly.id).where(UsageMonthly.snapshot_month == month).limit(1)).first()
    return hit is not None
