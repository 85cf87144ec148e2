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

OPT_OUT = "Opt-Out"  # included_in_health_measures_str of rows that must not count (other modules import this)


def is_opt_out(value: str | None, marker: str = OPT_OUT) -> bool:
    """The row is marked Opt-Out (compared ignoring case and surrounding spaces)."""
    return (value or "").strip().casefold() == marker.casefold()


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
    opt_out_value: str = OPT_OUT,
) -> AccountData | None:
    """The account, all its subscriptions and instances, and its usage rows from first_month to last_month.

    Four queries on Core columns (plain tuples, no ORM identity map): this runs on every `/usage` answer.
    """
    conn = session.connection()
    a = Account.__table__.c
    acc = conn.execute(
        select(a.id, a.name, a.customer_since_date, a.tam_name, a.tam_email, a.sales_segment).where(a.id == account_id)
    ).one_or_none()
    if acc is None:
        return None
    account = AccountInfo(*acc)

    sc = Subscription.__table__.c
    subs = tuple(
        SubscriptionInfo(*r)
        for r in conn.execute(
            select(
                sc.id,
                sc.name,
                sc.product_tier_name,
                sc.delivery_type,
                sc.start_date,
                sc.end_date,
                sc.licensed_seats,
                sc.arr,
            )
            .where(sc.account_id == account_id)
            .order_by(sc.start_date, sc.id)
        )
    )

    ic = Instance.__table__.c
    instances: dict[int, InstanceInfo] = {}
    for r in conn.execute(
        select(
            ic.id,
            ic.identity,
            ic.delivery_type,
            ic.deployment_type,
            ic.label,
            ic.label_source,
            ic.hostname,
            ic.installation_id,
            ic.namespace_id,
            ic.namespace_name,
            ic.last_ping_at,
            ic.last_version,
        ).where(ic.account_id == account_id)
    ):
        instances[r[0]] = InstanceInfo(*r[:10], last_ping_at=_utc(r[10]), last_version=r[11])

    wanted = set(metric_columns)
    typed = tuple(c for c in SCORED_METRIC_COLUMNS if c in wanted)
    extra = sorted(wanted - set(SCORED_METRIC_COLUMNS) - {"billable_user_count", "license_user_count"})
    t = UsageMonthly.__table__.c
    cols = [
        t.snapshot_month,
        t.instance_id,
        t.subscription_id,
        t.delivery_type,
        t.deployment_type,
        t.ping_created_at,
        t.billable_user_count,
        t.license_user_count,
        t.included_in_health,
        t.cleaned_version,
        t.license_mapped,
        *(t[c] for c in typed),
    ]
    if extra:
        # Only a custom rules file reads metrics outside the typed columns.
        cols.append(t.extra_metrics)
    stmt = (
        select(*cols)
        .where(t.account_id == account_id, t.snapshot_month >= first_month, t.snapshot_month <= last_month)
        .order_by(t.snapshot_month, t.instance_id, t.subscription_id)
    )
    labels = {i: inst.label for i, inst in instances.items()}
    end_typed = 11 + len(typed)
    rows = []
    for r in conn.execute(stmt).all():
        metrics: dict[str, float | None] = dict(zip(typed, r[11:end_typed], strict=True))
        if extra:
            blob = r[-1] or {}
            metrics.update({c: blob.get(c) for c in extra})
        ping = r[5]
        if ping is not None and ping.tzinfo is None:
            ping = ping.replace(tzinfo=UTC)  # SQLite hands back naive datetimes; everything stored is UTC
        rows.append(
            UsageRow(
                r[0],  # snapshot_month
                r[1],  # instance_id
                r[2],  # subscription_id
                r[3],  # delivery_type
                r[4],  # deployment_type
                ping,
                r[6],  # billable_user_count
                r[7],  # license_user_count
                labels.get(r[1], "Unknown"),  # the label now, after any relabelling
                is_opt_out(r[8], opt_out_value),
                metrics,
                r[9],  # cleaned_version
                r[10],  # license_mapped
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


def find_accounts_exact(session: Session, text: str, limit: int = 6) -> list[tuple[str, str]]:
    """(id, name) of the account whose id is `text`, else of every account whose name is `text` ignoring
    case, accents and punctuation (more than one when two accounts share a name)."""
    text = (text or "").strip()[:300]
    if not text:
        return []
    hit = session.execute(select(Account.id, Account.name).where(Account.id == text)).first()
    if hit is not None:
        return [(hit[0], hit[1])]
    key = name_key(text)
    if not key:
        return []
    rows = session.execute(
        select(Account.id, Account.name).where(Account.name_key == key).order_by(Account.id).limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def find_account_exact(session: Session, text: str) -> tuple[str, str] | None:
    """The one account `text` names exactly (id, or name when only one account has it)."""
    hits = find_accounts_exact(session, text, limit=2)
    return hits[0] if len(hits) == 1 else None


def nearest_account_names(session: Session, text: str, limit: int = 5) -> list[str]:
    """Names closest to `text` (for 'did you mean'), best first."""
    key = name_key((text or "")[:300])
    pairs = session.execute(select(Account.name_key, Account.name)).all()
    if not pairs or not key:
        return [p[1] for p in pairs[:limit]]
    choices = {i: p[0] for i, p in enumerate(pairs)}
    best = process.extract(key, choices, scorer=fuzz.WRatio, limit=limit)
    return [pairs[i][1] for _, _, i in best]
