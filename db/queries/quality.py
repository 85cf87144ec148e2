"""Queries of the data-quality triage and the health-drop alerts (their scoring inputs come in one batch
from `db.queries.account_data.load_accounts_data`)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AlertMute, UsageMonthly


def muted_accounts(session: Session) -> set[str]:
    return set(session.scalars(select(AlertMute.account_id)))


def months_with_data(session: Session, limit: int = 2) -> list[date]:
    """The newest `limit` months that have usage rows, newest first."""
    return list(
        session.scalars(
            select(UsageMonthly.snapshot_month).distinct().order_by(UsageMonthly.snapshot_month.desc()).limit(limit)
        )
    )
