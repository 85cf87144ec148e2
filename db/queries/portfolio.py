"""Everything a portfolio (App Home) needs for many accounts at once: one query per table, no per-account loop.

The accounts are chosen by a SQL condition (a TAM's / a team's emails, or all); subscriptions, instances and
usage rows are then selected with `account_id IN (subquery)`, so the work stays set-based whatever the count.
Rows come back as the scoring engine's frozen input dataclasses, like `db.queries.account_data`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from db.models import SCORED_METRIC_COLUMNS, Account, Instance, Subscription, UsageMonthly
from scoring.model import AccountInfo, InstanceInfo, SubscriptionInfo, UsageRow

OPT_OUT = "Opt-Out"
MAX_ID_LIST = 5000  # more accounts than this are selected by subquery instead of a literal id list


@dataclass
class PortfolioData:
    """One account's inputs: what `load_account_data` gives for one account, for many at once."""

    account: AccountInfo
    subscriptions: list[SubscriptionInfo] = field(default_factory=list)
    instances: dict[int, InstanceInfo] = field(default_factory=dict)
    last_seen: dict[int, date | None] = field(default_factory=dict)  # instance id -> last month with a row
    rows: list[UsageRow] = field(default_factory=list)


def _utc(ts: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def normalise_emails(emails: Iterable[str]) -> list[str]:
    return sorted({e.strip().lower() for e in emails if e and e.strip()})


def account_ids_for(emails: Collection[str] | None) -> Select:
    """A subquery of account ids: those whose TAM is one of `emails` (any case), or every account (None)."""
    stmt = select(Account.id)
    if emails is not None:
        stmt = stmt.where(func.lower(Account.tam_email).in_(normalise_emails(emails)))
    return stmt


def has_accounts(session: Session, emails: Collection[str]) -> bool:
    """Whether any account has one of these TAM emails (decides between a portfolio and the guide)."""
    if not normalise_emails(emails):
        return False
    return session.scalar(account_ids_for(emails).limit(1)) is not None


def load_portfolio_data(
    session: Session,
    emails: Collection[str] | None,
    first_month: date,
    last_month: date,
    metric_columns: Iterable[str] = SCORED_METRIC_COLUMNS,
) -> dict[str, PortfolioData]:
    """Accounts (by TAM emails, or all when None) with subscriptions, instances and rows first..last month.

    Four queries in all, whatever the number of accounts.
    """
    out: dict[str, PortfolioData] = {}
    acc_stmt = select(
        Account.id,
        Account.name,
        Account.customer_since_date,
        Account.tam_name,
        Account.tam_email,
        Account.sales_segment,
    )
    if emails is not None:
        acc_stmt = acc_stmt.where(func.lower(Account.tam_email).in_(normalise_emails(emails)))
    for r in session.execute(acc_stmt):
        out[r.id] = PortfolioData(AccountInfo(*r))
    if not out:
        return out
    # The other tables by the ids just read: a literal list lets the database use its account_id indexes
    # (a subquery here made PostgreSQL hash-join the whole usage table). Every account: no filter at all.
    ids: Select | list[str] = sorted(out) if len(out) <= MAX_ID_LIST else account_ids_for(emails)

    def scoped(stmt: Select, column) -> Select:  # type: ignore[no-untyped-def]
        return stmt if emails is None else stmt.where(column.in_(ids))

    sub_stmt = select(
        Subscription.account_id,
        Subscription.id,
        Subscription.name,
        Subscription.product_tier_name,
        Subscription.delivery_type,
        Subscription.start_date,
        Subscription.end_date,
        Subscription.licensed_seats,
        Subscription.arr,
    ).order_by(Subscription.start_date, Subscription.id)
    for r in session.execute(scoped(sub_stmt, Subscription.account_id)):
        acc = out.get(r[0])
        if acc is not None:
            acc.subscriptions.append(SubscriptionInfo(*r[1:]))

    inst_stmt = select(
        Instance.account_id,
        Instance.id,
        Instance.identity,
        Instance.delivery_type,
        Instance.deployment_type,
        Instance.label,
        Instance.label_source,
        Instance.hostname,
        Instance.installation_id,
        Instance.namespace_id,
        Instance.namespace_name,
        Instance.last_ping_at,
        Instance.last_version,
        Instance.last_seen_month,
    )
    labels: dict[int, str] = {}
    for r in session.execute(scoped(inst_stmt, Instance.account_id)):
        acc = out.get(r.account_id)
        if acc is None:
            continue
        acc.instances[r.id] = InstanceInfo(*r[1:11], last_ping_at=_utc(r.last_ping_at), last_version=r.last_version)
        acc.last_seen[r.id] = r.last_seen_month
        labels[r.id] = r.label

    wanted = set(metric_columns)
    typed = [c for c in SCORED_METRIC_COLUMNS if c in wanted]
    extra = sorted(wanted - set(SCORED_METRIC_COLUMNS) - {"billable_user_count", "license_user_count"})
    cols = [
        UsageMonthly.account_id,
        UsageMonthly.snapshot_month,
        UsageMonthly.instance_id,
        UsageMonthly.subscription_id,
        UsageMonthly.delivery_type,
        UsageMonthly.deployment_type,
        UsageMonthly.ping_created_at,
        UsageMonthly.billable_user_count,
        UsageMonthly.license_user_count,
        UsageMonthly.included_in_health,
        UsageMonthly.cleaned_version,
        UsageMonthly.license_mapped,
        *(getattr(UsageMonthly, c) for c in typed),
    ]
    if extra:
        cols.append(UsageMonthly.extra_metrics)  # only a custom rules file reads these
    n_fixed = 12
    usage_stmt = select(*cols).where(
        UsageMonthly.snapshot_month >= first_month, UsageMonthly.snapshot_month <= last_month
    )
    for r in session.execute(scoped(usage_stmt, UsageMonthly.account_id)):
        acc = out.get(r.account_id)
        if acc is None:
            continue
        metrics: dict[str, float | None] = dict(zip(typed, r[n_fixed : n_fixed + len(typed)], strict=True))
        if extra:
            blob = r[-1] or {}
            metrics.update({c: blob.get(c) for c in extra})
        acc.rows.append(
            UsageRow(
                snapshot_month=r.snapshot_month,
                instance_id=r.instance_id,
                subscription_id=r.subscription_id,
                delivery_type=r.delivery_type,
                deployment_type=r.deployment_type,
                ping_created_at=_utc(r.ping_created_at),
                billable_user_count=r.billable_user_count,
                license_user_count=r.license_user_count,
                label=labels.get(r.instance_id, "Unknown"),
                opt_out=(r.included_in_health or "").strip() == OPT_OUT,
                metrics=metrics,
                version=r.cleaned_version,
                license_mapped=r.license_mapped,
            )
        )
    return out


def latest_usage_month(session: Session) -> date | None:
    return session.scalar(select(func.max(UsageMonthly.snapshot_month)))


def alert_counts(session: Session, emails: Collection[str] | None, month: date) -> dict[str, int] | None:
    """Alerts recorded for `month` per account (colleague G's alert records); None when there are none kept."""
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
