"""One query batch with everything an account report needs: one query per table, no per-row queries.

Rows come back as the scoring engine's frozen input dataclasses, so `scoring/` never sees the ORM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from rapidfuzz import fuzz, process
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import SCORED_METRIC_COLUMNS, Account, Instance, Subscription, UsageMonthly
from db.names import name_key
from scoring.model import AccountInfo, InstanceInfo, SubscriptionInfo, UsageRow

OPT_OUT = "Opt-Out"


@dataclass(frozen=True)
class AccountData:
    account: AccountInfo
    subscriptions: tuple[SubscriptionInfo, ...]
    instances: dict[int, InstanceInfo]
    rows: tuple[UsageRow, ...]


def _utc(ts: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def load_account_data(
    session: Session,
    account_id: str,
    first_month: date,
    last_month: date,
    metric_columns: Iterable[str] = SCORED_METRIC_COLUMNS,
) -> AccountData | None:
    """The account, all its subscriptions and instances, and its usage rows from first_month to last_month."""
    acc = session.execute(
        select(
            Account.id,
            Account.name,
            Account.customer_since_date,
            Account.tam_name,
            Account.tam_email,
            Account.sales_segment,
        ).where(Account.id == account_id)
    ).one_or_none()
    if acc is None:
        return None
    account = AccountInfo(*acc)

    subs = tuple(
        SubscriptionInfo(*r)
        for r in session.execute(
            select(
                Subscription.id,
                Subscription.name,
                Subscription.product_tier_name,
                Subscription.delivery_type,
                Subscription.start_date,
                Subscription.end_date,
                Subscription.licensed_seats,
                Subscription.arr,
            )
            .where(Subscription.account_id == account_id)
            .order_by(Subscription.start_date, Subscription.id)
        )
    )

    instances: dict[int, InstanceInfo] = {}
    for r in session.execute(
        select(
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
        ).where(Instance.account_id == account_id)
    ):
        instances[r.id] = InstanceInfo(*r[:10], last_ping_at=_utc(r.last_ping_at), last_version=r.last_version)

    wanted = set(metric_columns)
    typed = [c for c in SCORED_METRIC_COLUMNS if c in wanted]
    extra = sorted(wanted - set(SCORED_METRIC_COLUMNS) - {"billable_user_count", "license_user_count"})
    cols = [
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
        # Only a custom rules file reads metrics outside the typed columns.
        cols.append(UsageMonthly.extra_metrics)
    stmt = (
        select(*cols)
        .where(
            UsageMonthly.account_id == account_id,
            UsageMonthly.snapshot_month >= first_month,
            UsageMonthly.snapshot_month <= last_month,
        )
        .order_by(UsageMonthly.snapshot_month, UsageMonthly.instance_id, UsageMonthly.subscription_id)
    )
    rows = []
    n_fixed = 11
    for r in session.execute(stmt):
        metrics: dict[str, float | None] = dict(zip(typed, r[n_fixed : n_fixed + len(typed)], strict=True))
        if extra:
            blob = r[-1] or {}
            metrics.update({c: blob.get(c) for c in extra})
        inst = instances.get(r.instance_id)
        rows.append(
            UsageRow(
                snapshot_month=r.snapshot_month,
                instance_id=r.instance_id,
                subscription_id=r.subscription_id,
                delivery_type=r.delivery_type,
                deployment_type=r.deployment_type,
                ping_created_at=_utc(r.ping_created_at),
                billable_user_count=r.billable_user_count,
                license_user_count=r.license_user_count,
                label=inst.label if inst else "Unknown",
                opt_out=(r.included_in_health or "").strip() == OPT_OUT,
                metrics=metrics,
                version=r.cleaned_version,
                license_mapped=r.license_mapped,
            )
        )
    return AccountData(account, subs, instances, tuple(rows))


def newest_version_seen(session: Session) -> str | None:
    """The newest GitLab version seen anywhere: the distinct per-instance versions (a small set), parsed."""
    from scoring.flags import newest_version

    versions = session.scalars(select(Instance.last_version).where(Instance.last_version.is_not(None)).distinct())
    best = newest_version(versions)
    if best is None:
        # Instances not summarised by a sync yet: fall back to the usage rows.
        best = newest_version(
            session.scalars(
                select(UsageMonthly.cleaned_version).where(UsageMonthly.cleaned_version.is_not(None)).distinct()
            )
        )
    return best


def latest_account_month(session: Session, account_id: str) -> date | None:
    from sqlalchemy import func

    return session.scalar(select(func.max(UsageMonthly.snapshot_month)).where(UsageMonthly.account_id == account_id))


def find_account_exact(session: Session, text: str) -> tuple[str, str] | None:
    """(id, name) of the account whose id is `text`, or whose name is `text` ignoring case, accents, punctuation."""
    text = (text or "").strip()[:300]
    if not text:
        return None
    hit = session.execute(select(Account.id, Account.name).where(Account.id == text)).first()
    if hit is None:
        key = name_key(text)
        if not key:
            return None
        hit = session.execute(
            select(Account.id, Account.name).where(Account.name_key == key).order_by(Account.id).limit(1)
        ).first()
    return (hit[0], hit[1]) if hit else None


def nearest_account_names(session: Session, text: str, limit: int = 5) -> list[str]:
    """Names closest to `text` (for 'did you mean'), best first."""
    key = name_key((text or "")[:300])
    pairs = session.execute(select(Account.name_key, Account.name)).all()
    if not pairs or not key:
        return [p[1] for p in pairs[:limit]]
    choices = {i: p[0] for i, p in enumerate(pairs)}
    best = process.extract(key, choices, scorer=fuzz.WRatio, limit=limit)
    return [pairs[i][1] for _, _, i in best]
