"""Two consecutive months of a small portfolio where each kind of alert has one cause (ORM rows)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from db.models import SyncRun
from db.session import session_scope
from support.scoring_helpers import add_account, add_instance, add_subscription, add_usage

SEP = date(2026, 9, 1)
OCT = date(2026, 10, 1)
TAM1, TAM2, TAM3 = "tam1@example.com", "tam2@example.com", "tam3@example.com"

# Green on every use case for 100 billable users (docs/scoring.md bands).
GOOD = {
    "last_activity_28_days_user": 90,
    "action_monthly_active_users_project_repo_28_days_user": 60,
    "ci_builds_28_days_event_post_16_9": 5000,
    "deployments_28_days_user": 20,
    "deployments_28_days_event": 900,
    "successful_deployments_28_days_event": 90,
    "failed_deployments_28_days_event": 10,
}


def _account(s, id: str, name: str, tam: str, since: date | None = date(2024, 1, 1)) -> None:  # type: ignore[no-untyped-def]
    add_account(s, id, name, since=since).tam_email = tam


def seed(url: str, *, october: bool = True) -> None:
    """September for everyone; October too unless `october=False` (then tests add their own)."""
    with session_scope(url) as s:
        # Acme: utilization 90% -> 75% (falls 15 points) and SCM Green -> Yellow.
        _account(s, "ACC-ACME", "Acme Corp", TAM1)
        add_subscription(s, "ACC-ACME", "S-ACME", licensed_seats=200)
        acme = add_instance(s, "ACC-ACME", "acme-prod")
        add_usage(s, acme, "S-ACME", SEP, billable_user_count=180, **{**GOOD, **_scale(GOOD, 1.8)})
        # Beta: two Production instances on one subscription; the smaller one stops reporting in October.
        _account(s, "ACC-BETA", "Beta Industries", TAM1)
        add_subscription(s, "ACC-BETA", "S-BETA", licensed_seats=120)
        big = add_instance(s, "ACC-BETA", "beta-main")
        small = add_instance(s, "ACC-BETA", "beta-edge")
        add_usage(s, big, "S-BETA", SEP, billable_user_count=100, license_user_count=120, **GOOD)
        add_usage(s, small, "S-BETA", SEP, billable_user_count=10, license_user_count=120, **GOOD)
        # Cobalt: onboarded in September at 30% utilization; a month later still 30%.
        _account(s, "ACC-COBALT", "Cobalt Labs", TAM2, since=SEP)
        add_subscription(s, "ACC-COBALT", "S-COBALT", start_date=SEP, licensed_seats=100)
        cobalt = add_instance(s, "ACC-COBALT", "cobalt-prod")
        add_usage(s, cobalt, "S-COBALT", SEP, billable_user_count=30, license_user_count=100, **_scale(GOOD, 0.3))
        # Delta: steady, with SCM improving Yellow -> Green and CD going to No data: no alert.
        _account(s, "ACC-DELTA", "Delta Co", TAM2)
        add_subscription(s, "ACC-DELTA", "S-DELTA", licensed_seats=110)
        delta = add_instance(s, "ACC-DELTA", "delta-prod")
        add_usage(
            s,
            delta,
            "S-DELTA",
            SEP,
            billable_user_count=100,
            license_user_count=110,
            **{**GOOD, "action_monthly_active_users_project_repo_28_days_user": 20},
        )
        # Echo: drops like Acme, but its alerts are muted.
        _account(s, "ACC-ECHO", "Echo Ltd", TAM3)
        add_subscription(s, "ACC-ECHO", "S-ECHO", licensed_seats=200)
        echo = add_instance(s, "ACC-ECHO", "echo-prod")
        add_usage(s, echo, "S-ECHO", SEP, billable_user_count=180, **_scale(GOOD, 1.8))
        if october:
            add_usage(
                s,
                acme,
                "S-ACME",
                OCT,
                billable_user_count=150,
                **{**_scale(GOOD, 1.5), "action_monthly_active_users_project_repo_28_days_user": 30},
            )
            add_usage(s, big, "S-BETA", OCT, billable_user_count=100, license_user_count=120, **GOOD)
            add_usage(s, small, "S-BETA", OCT, billable_user_count=10, license_user_count=120, ping_created_at=None)
            add_usage(s, cobalt, "S-COBALT", OCT, billable_user_count=30, license_user_count=100, **_scale(GOOD, 0.3))
            add_usage(
                s,
                delta,
                "S-DELTA",
                OCT,
                billable_user_count=100,
                license_user_count=110,
                **{
                    **GOOD,
                    "deployments_28_days_user": None,
                    "deployments_28_days_event": None,
                    "successful_deployments_28_days_event": None,
                    "failed_deployments_28_days_event": None,
                },
            )
            add_usage(
                s,
                echo,
                "S-ECHO",
                OCT,
                billable_user_count=150,
                **{**_scale(GOOD, 1.5), "action_monthly_active_users_project_repo_28_days_user": 30},
            )
            s.add(SyncRun(source="test", status="succeeded", as_of_month=OCT, finished_at=datetime.now(UTC)))


def _scale(metrics: dict[str, float], factor: float) -> dict[str, float]:
    return {k: v * factor for k, v in metrics.items()}
