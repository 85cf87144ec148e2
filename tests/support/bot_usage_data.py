"""Accounts for `/usage` tests, written with the ORM (12 months of usage, a few instances, one Unknown)."""

from __future__ import annotations

from datetime import date

from db.models import SyncRun
from db.session import session_scope
from support.scoring_helpers import add_account, add_instance, add_subscription, add_usage

ACME_ID = "0016100001AbCdE"
ACME_LABS_ID = "0016100001LaBsX"
GLOBEX_ID = "0016100001GlObX"
AS_OF = date(2026, 10, 1)
TAM_EMAIL = "tam@example.com"


def months(n: int = 12, last: date = AS_OF) -> list[date]:
    out = []
    y, m = last.year, last.month
    for _ in range(n):
        out.append(date(y, m, 1))
        m -= 1
        if m == 0:
            y, m = y - 1, 12
    return sorted(out)


def seed(url: str, *, acme_instances: int = 3, unknown: int = 1) -> None:
    """Acme Corp (TAM tam@example.com), Acme Labs (a near name), Globex; usage for 12 months."""
    with session_scope(url) as s:
        add_account(s, ACME_ID, "Acme Corp", since=date(2023, 1, 1))
        add_account(s, ACME_LABS_ID, "Acme Labs", since=date(2024, 1, 1))
        add_account(s, GLOBEX_ID, "Globex Corporation", since=date(2022, 5, 1))
        s.flush()
        add_subscription(s, ACME_ID, "S-ACME-1", licensed_seats=200, arr=48000.0)
        add_subscription(s, ACME_LABS_ID, "S-LABS-1", licensed_seats=50, arr=9000.0)
        add_subscription(s, GLOBEX_ID, "S-GLOBEX-1", licensed_seats=1000, arr=150000.0)
        s.flush()
        acme = [
            add_instance(
                s,
                ACME_ID,
                f"acme{n:03d}",
                label="Unknown" if n < unknown else ("Production" if n == unknown else "Non-Production"),
                hostname=f"gitlab{n:03d}.acme.com",
                last_version=f"17.{n % 7}.1",
            )
            for n in range(acme_instances)
        ]
        labs = add_instance(s, ACME_LABS_ID, "labs1", hostname="gitlab.acmelabs.io", last_version="17.6.0")
        globex = add_instance(s, GLOBEX_ID, "globex1", hostname="git.globex.example", last_version="16.11.0")
        for i, month in enumerate(months()):
            for n, inst in enumerate(acme):
                add_usage(
                    s,
                    inst,
                    "S-ACME-1",
                    month,
                    billable_user_count=(60 + 2 * i) if n == unknown else 5 + n % 7,
                    cleaned_version=inst.last_version,
                    last_activity_28_days_user=50.0 + i,
                    action_monthly_active_users_project_repo_28_days_user=20.0 + i,
                    ci_builds_28_days_event_post_16_9=500.0 + 40 * i,
                )
            add_usage(s, labs, "S-LABS-1", month, billable_user_count=40, cleaned_version="17.6.0")
            add_usage(s, globex, "S-GLOBEX-1", month, billable_user_count=900, cleaned_version="16.11.0")
        s.add(SyncRun(source="test", status="succeeded", as_of_month=AS_OF))
