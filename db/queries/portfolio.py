"""Portfolio (App Home) queries besides the scoring inputs, which `db.queries.account_data.load_accounts_data`
loads for many accounts at once."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Account, Instance
from db.queries.account_data import account_ids_for, normalise_emails


def has_accounts(session: Session, emails: Collection[str]) -> bool:
    """Whether any account has one of these TAM emails (decides between a portfolio and the guide)."""
    if not normalise_emails(emails):
        return False
    return session.scalar(account_ids_for(emails).limit(1)) is not None


def alert_counts(session: Session, emails: Collection[str] | None, month: date) -> dict[str, int] | None:
    """Alerts recorded for `month` per account (workflows.alerts); None when there are none kept."""
    try:
        from db.models.quality import AlertRecord
    except ImportError:  # an installation without the alerts feature: say nothing rather than "0 alerts"
        return None
    stmt = (
        select(AlertRecord.account_id, func.count()).where(AlertRecord.month == month).group_by(AlertRecord.account_id)
    )
    if emails is not None:
        stmt = stmt.where(AlertRecord.account_id.in_(account_ids_for(emails)))
    return {acc: n for acc, n in session.execute(stmt)}


def count_accounts(session: Session, emails: Collection[str] | None) -> int:
    stmt = select(func.count()).select_from(Account)
    if emails is not None:
        stmt = stmt.where(Account.id.in_(account_ids_for(emails)))
    return int(session.scalar(stmt) or 0)


def data_fingerprint(session: Session) -> tuple[object, ...]:
    """Changes whenever what a portfolio shows can change: a sync run, a relabel, alerts, accounts added.

    Label versions are bumped by every label change (person or sync), so their sum moves with any relabel.
    """
    from db.models import LabelChange, SyncRun

    sync = session.execute(select(func.max(SyncRun.id), func.count(SyncRun.id))).one()
    labels = session.execute(select(func.max(LabelChange.id), func.count(LabelChange.id))).one()
    inst = session.execute(select(func.count(Instance.id), func.sum(Instance.label_version))).one()
    accounts = session.scalar(select(func.count(Account.id)))
    alerts: tuple[object, ...] = ()
    try:
        from db.models.quality import AlertRecord

        alerts = tuple(session.execute(select(func.max(AlertRecord.id), func.count(AlertRecord.id))).one())
    except ImportError:
        pass
    return (*sync, *labels, *inst, accounts, *alerts)
