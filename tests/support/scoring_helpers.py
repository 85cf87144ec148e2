"""Builders for scoring tests: frozen scoring inputs, and ORM rows for report tests (no sync needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from db.models import Account, Instance, Subscription, UsageMonthly
from db.names import name_key
from scoring.model import AccountInfo, InstanceInfo, SubscriptionInfo, UsageRow
from workflows.sync.layouts import layout_id

MONTH = date(2026, 10, 1)
PING = datetime(2026, 10, 28, 4, 12, tzinfo=UTC)


def sub(
    id: str = "S1",
    tier: str = "Self-Managed - Premium",
    arr: float | None = 1000.0,
    start: date = date(2024, 1, 1),
    end: date | None = None,
    seats: int = 500,
    delivery: str = "Self-Managed",
) -> SubscriptionInfo:
    return SubscriptionInfo(id, f"A-{id}", tier, delivery, start, end, seats, arr)


def inst(id: int, label: str = "Production", deployment: str = "Self-Managed", **kw: Any) -> InstanceInfo:
    delivery = "Self-Managed" if deployment == "Self-Managed" else "SaaS"
    return InstanceInfo(
        id, f"sm:{id}", delivery, deployment, label, hostname=kw.pop("hostname", f"gl{id}.example"), **kw
    )


def row(
    instance_id: int = 1,
    subscription_id: str = "S1",
    billable: int | None = 100,
    license: int | None = 200,
    metrics: dict[str, float | None] | None = None,
    month: date = MONTH,
    ping: datetime | None = PING,
    label: str = "Production",
    opt_out: bool = False,
    deployment: str = "Self-Managed",
    version: str | None = "17.3.2",
    mapped: bool | None = True,
) -> UsageRow:
    delivery = "Self-Managed" if deployment == "Self-Managed" else "SaaS"
    return UsageRow(
        month,
        instance_id,
        subscription_id,
        delivery,
        deployment,
        ping,
        billable,
        license,
        label,
        opt_out,
        metrics or {},
        version,
        mapped,
    )


def account(since: date | None = date(2024, 1, 1)) -> AccountInfo:
    return AccountInfo("A1", "Acme Corp", since, "Tam", "tam@example.com")


# ------------------------------------------------------------------------------------------ database


def add_account(s: Session, id: str = "0016100001AbCdE", name: str = "Acme Corp", since: date | None = None) -> Account:
    a = Account(id=id, name=name, name_key=name_key(name), customer_since_date=since, tam_email="tam@example.com")
    s.add(a)
    return a


def add_subscription(s: Session, account_id: str, id: str, **kw: Any) -> Subscription:
    values: dict[str, Any] = {
        "name": f"A-{id}",
        "product_tier_name": "Self-Managed - Premium",
        "delivery_type": "Self-Managed",
        "start_date": date(2024, 1, 1),
        "end_date": None,
        "licensed_seats": 200,
        "arr": 48000.0,
    }
    values.update(kw)
    sub_ = Subscription(id=id, account_id=account_id, **values)
    s.add(sub_)
    return sub_


def add_instance(s: Session, account_id: str, key: str, label: str = "Production", **kw: Any) -> Instance:
    values: dict[str, Any] = {
        "delivery_type": "Self-Managed",
        "deployment_type": "Self-Managed",
        "hostname": f"{key}.example.com",
        "installation_id": key,
    }
    values.update(kw)
    i = Instance(identity=f"sm:{key}", account_id=account_id, label=label, export_label=label, **values)
    s.add(i)
    s.flush()
    return i


def add_usage(s: Session, instance: Instance, subscription_id: str, month: date, **kw: Any) -> UsageMonthly:
    values: dict[str, Any] = {
        "delivery_type": instance.delivery_type,
        "deployment_type": instance.deployment_type,
        "ping_created_at": datetime(month.year, month.month, 20, 4, 0, tzinfo=UTC),
        "cleaned_version": "17.3.2",
        "license_mapped": True,
        "instance_type": instance.label,
        "included_in_health": "Included in Health Score",
        "license_user_count": 200,
        "billable_user_count": 100,
    }
    values.update(kw)
    extra = values.pop("extra_metrics", None)
    if isinstance(extra, dict):
        # Stored as a sync stores them: values in the order of a metric layout's names.
        names = sorted(extra)
        values["metric_layout_id"] = layout_id(s.connection(), names)
        values["extra_metrics"] = [extra[n] for n in names]
    u = UsageMonthly(
        snapshot_month=month,
        instance_id=instance.id,
        account_id=instance.account_id,
        subscription_id=subscription_id,
        **values,
    )
    s.add(u)
    return u
