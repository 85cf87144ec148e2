"""Queries of the data-quality triage and the health-drop alerts.

`load_portfolio` is the alerts' one batch: every account, subscription, instance and the usage rows of
the months compared, in four queries (no per-account queries), as the scoring engine's input dataclasses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import SCORED_METRIC_COLUMNS, Account, AlertMute, Instance, Subscription, UsageMonthly
from db.queries.account_data import OPT_OUT, _utc
from scoring.model import AccountInfo, InstanceInfo, SubscriptionInfo, UsageRow


@dataclass
class AccountBundle:
    """Everything the roll-up needs for one account, for the months loaded."""

    account: AccountInfo
    subscriptions: list[SubscriptionInfo] = field(default_factory=list)
    instances: dict[int, InstanceInfo] = field(default_factory=dict)
    rows: list[UsageRow] = field(default_factory=list)


def load_portfolio(session: Session, months: Sequence[date], metric_columns: Iterable[str]) -> dict[str, AccountBundle]:
    """All accounts with their subscriptions, instances and the usage rows of `months` (first days)."""
    bundles: dict[str, AccountBundle] = {}
    for r in session.execute(
        select(
            Account.id,
            Account.name,
            Account.customer_since_date,
            Account.tam_name,
            Account.tam_email,
            Account.sales_segment,
        )
    ):
        bundles[r.id] = AccountBundle(AccountInfo(*r))

    for r in session.execute(
        select(
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
    ):
        if r.account_id in bundles:
            bundles[r.account_id].subscriptions.append(SubscriptionInfo(*r[1:]))

    owner: dict[int, str] = {}
    for r in session.execute(
        select(
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
        )
    ):
        if r.account_id in bundles:
            owner[r.id] = r.account_id
            bundles[r.account_id].instances[r.id] = InstanceInfo(
                *r[1:11], last_ping_at=_utc(r.last_ping_at), last_version=r.last_version
            )

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
        cols.append(UsageMonthly.extra_metrics)
    n_fixed = 12
    stmt = select(*cols).where(UsageMonthly.snapshot_month.in_(list(months)))
    for r in session.execute(stmt):
        bundle = bundles.get(r.account_id)
        if bundle is None:
            continue
        metrics: dict[str, float | None] = dict(zip(typed, r[n_fixed : n_fixed + len(typed)], strict=True))
        if extra:
            blob = r[-1] or {}
            metrics.update({c: blob.get(c) for c in extra})
        inst = bundle.instances.get(r.instance_id)
        bundle.rows.append(
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
    return bundles


def muted_accounts(session: Session) -> set[str]:
    return set(session.scalars(select(AlertMute.account_id)))


def months_with_data(session: Session, limit: int = 2) -> list[date]:
    """The newest `limit` months that have usage rows, newest first."""
    return list(
        session.scalars(
            select(UsageMonthly.snapshot_month).distinct().order_by(UsageMonthly.snapshot_month.desc()).limit(limit)
        )
    )
