"""Small, realistic portfolios for App Home tests: accounts whose colours are known from the bands of docs/scoring.md.

Every account has one Premium subscription of 200 seats, customer since 2024 (so License is Red at or
below 75% and Green above), and one self-managed instance with a row for the month (pinged mid-month).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from db.models import Account, Instance, Subscription, SyncRun, UsageMonthly
from db.names import name_key

MONTH = date(2026, 10, 1)
SEATS = 200

# level -> (billable users, metric ratios per billable user). Colours per docs/scoring.md (gitlab-current).
LEVELS: dict[str, tuple[int, dict[str, float]]] = {
    # License 42% Red; engagement 0.3 Red; SCM 0.05 Red; CI 1 Red; CD sub-scores all Red.
    "red": (84, {"eng": 0.3, "scm": 0.05, "ci": 1, "dep_u": 0.01, "dep_e": 1, "ok": 10, "fail": 90}),
    # License 80% Green; the rest Yellow: overall (0.3*88 + 0.7*63) = 70.5, Yellow.
    "yellow": (160, {"eng": 0.6, "scm": 0.2, "ci": 10, "dep_u": 0.1, "dep_e": 5, "ok": 50, "fail": 50}),
    # Everything Green.
    "green": (180, {"eng": 0.9, "scm": 0.5, "ci": 50, "dep_u": 0.2, "dep_e": 10, "ok": 95, "fail": 5}),
}


def as_of(session: Session, month: date = MONTH) -> None:
    session.add(SyncRun(source="test", status="succeeded", as_of_month=month))


def add_account(
    session: Session,
    acc_id: str,
    name: str,
    tam_email: str | None,
    level: str,
    *,
    tam_name: str | None = None,
    label: str = "Production",
    unknown_extra: int = 0,
    billable: int | None = None,
    month: date = MONTH,
) -> list[int]:
    """An account at a colour level; returns its instance ids (the main one first)."""
    session.add(
        Account(
            id=acc_id,
            name=name,
            name_key=name_key(name),
            customer_since_date=date(2024, 1, 15),
            tam_email=tam_email,
            tam_name=tam_name or (tam_email.split("@")[0].title() if tam_email else None),
        )
    )
    sub_id = f"S-{acc_id}"
    session.add(
        Subscription(
            id=sub_id,
            name=f"A-{acc_id}",
            account_id=acc_id,
            product_tier_name="Self-Managed - Premium",
            delivery_type="Self-Managed",
            start_date=date(2024, 1, 15),
            licensed_seats=SEATS,
            arr=24000.0,
        )
    )
    session.flush()
    b, r = LEVELS[level]
    b = billable if billable is not None else b
    ping = datetime(month.year, month.month, 15, 4, 0, tzinfo=UTC)
    ids = []
    for k in range(1 + unknown_extra):
        inst = Instance(
            identity=f"sm:{acc_id}-{k}",
            account_id=acc_id,
            delivery_type="Self-Managed",
            deployment_type="Self-Managed",
            hostname=f"gitlab{k}.{acc_id.lower()}.example",
            label=label if k == 0 else "Unknown",
            export_label=label if k == 0 else "Unknown",
            last_seen_month=month,
            last_ping_at=ping,
            last_version="17.5.1",
        )
        session.add(inst)
        session.flush()
        ids.append(inst.id)
        session.add(
            UsageMonthly(
                snapshot_month=month,
                instance_id=inst.id,
                account_id=acc_id,
                subscription_id=sub_id,
                delivery_type="Self-Managed",
                deployment_type="Self-Managed",
                ping_created_at=ping,
                cleaned_version="17.5.1",
                license_mapped=True,
                instance_type=label if k == 0 else "Unknown",
                license_user_count=SEATS,
                billable_user_count=b if k == 0 else 5,
                last_activity_28_days_user=r["eng"] * b,
                action_monthly_active_users_project_repo_28_days_user=r["scm"] * b,
                ci_builds_28_days_event_post_16_9=r["ci"] * b,
                deployments_28_days_user=r["dep_u"] * b,
                deployments_28_days_event=r["dep_e"] * b,
                successful_deployments_28_days_event=r["ok"],
                failed_deployments_28_days_event=r["fail"],
            )
        )
    session.flush()
    return ids
