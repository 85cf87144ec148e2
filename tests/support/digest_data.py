"""Small ORM builders for the digest, relabel and scheduler tests (rows as the sync would leave them)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

from sqlalchemy.orm import Session

from db.models import Account, Instance, Subscription, UsageMonthly
from db.session import session_scope

_ids = count(1)


def account(
    session: Session, account_id: str, name: str, tam_email: str | None, tam_name: str | None = None
) -> Account:
    acc = Account(id=account_id, name=name, name_key=name.lower(), tam_email=tam_email, tam_name=tam_name)
    session.add(acc)
    session.add(
        Subscription(
            id=f"sub-{account_id}",
            name=f"A-S{account_id}",
            account_id=account_id,
            product_tier_name="Self-Managed - Premium",
            delivery_type="Self-Managed",
            start_date=date(2025, 1, 1),
            licensed_seats=100,
        )
    )
    return acc


def instance(
    session: Session,
    account_id: str,
    hostname: str | None,
    *,
    label: str = "Unknown",
    silent_days: int | None = 3,
    version: str = "17.3.2",
    billable: int | None = 42,
    namespace: str | None = None,
    license_mapped: bool | None = None,
    now: datetime | None = None,
) -> Instance:
    now = now or datetime.now(UTC)
    n = next(_ids)
    ping = None if silent_days is None else now - timedelta(days=silent_days)
    last_month = date(now.year, now.month, 1)
    inst = Instance(
        identity=f"saas:{n}" if namespace else f"sm:{n}|{hostname}",
        account_id=account_id,
        delivery_type="SaaS" if namespace else "Self-Managed",
        deployment_type="GitLab.com" if namespace else "Self-Managed",
        hostname=None if namespace else hostname,
        namespace_id=str(n) if namespace else None,
        namespace_name=namespace,
        export_label=label,
        label=label,
        label_source="export",
        label_version=0,
        first_seen_month=date(2025, 3, 1),
        last_seen_month=last_month,
        last_ping_at=ping,
        last_version=version,
        last_billable_users=billable,
    )
    session.add(inst)
    session.flush()
    if license_mapped is not None:
        session.add(
            UsageMonthly(
                snapshot_month=last_month,
                instance_id=inst.id,
                account_id=account_id,
                subscription_id=f"sub-{account_id}",
                delivery_type=inst.delivery_type,
                deployment_type=inst.deployment_type,
                license_mapped=license_mapped,
                instance_type=label,
                extra_metrics=[],
            )
        )
    return inst


def portfolio(url: str, now: datetime | None = None) -> dict[str, int]:
    """Three TAMs: Avery (2 accounts, Unknowns + an unmapped license), Blake (nothing Unknown),
    Casey (not in Slack); and one account with Unknowns but no TAM. Returns instance ids by hostname.

    The data's month is that of `now` (default: the real clock); tests that name a month pass `now`."""
    ids: dict[str, int] = {}
    with session_scope(url) as s:
        account(s, "0016A", "Acme Corp", "Avery@Example.com", "Avery")
        account(s, "0016B", "Beta Industries", "avery@example.com", "Avery")
        account(s, "0016C", "Cobalt", "blake@example.com", "Blake")
        account(s, "0016D", "Delta", "casey@example.com", "Casey")
        account(s, "0016E", "Echo (no TAM)", None)
        for host, acc, kw in [
            ("gitlab.acme.com", "0016A", {"license_mapped": False}),
            ("old.acme.com", "0016A", {"silent_days": 200}),
            ("prod.acme.com", "0016A", {"label": "Production"}),
            ("git.beta.io", "0016B", {}),
            ("gitlab.cobalt.net", "0016C", {"label": "Production"}),
            ("gitlab.delta.org", "0016D", {}),
            ("gitlab.echo.dev", "0016E", {}),
        ]:
            ids[host] = instance(s, acc, host, now=now, **kw).id
    return ids
