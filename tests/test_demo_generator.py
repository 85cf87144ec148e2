"""The demo export: deterministic, realistic, and covering every case the bot must handle."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select
from support.sync_helpers import count

from bot.cli import cli
from db.models import Account, Instance, SyncRun
from db.session import session_scope
from workflows.demo import generate_export, last_full_month
from workflows.settings import Settings

TODAY = date(2026, 11, 27)


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_default_demo_export_has_everything_the_bot_must_handle(tmp_path: Path) -> None:
    summary = generate_export(tmp_path, today=TODAY)
    accounts = _read(tmp_path / "accounts.csv")
    subs = _read(tmp_path / "subscriptions.csv")
    usage = _read(tmp_path / "usage_monthly.csv")

    names = [a["crm_account_name"] for a in accounts]
    assert len(accounts) == summary.accounts >= 40
    assert "Acme Corp" in names
    assert any(n.startswith("Acme") and n != "Acme Corp" for n in names)
    assert len(names) == len(set(names))
    tams = {a["technical_account_manager_email"] for a in accounts if a["technical_account_manager_email"]}
    assert len(tams) == 6

    months = sorted({r["snapshot_month"] for r in usage})
    assert len(months) == 13
    assert months[-1] == "2026-10-01" == last_full_month(TODAY).isoformat()
    assert months[0] == "2025-10-01"

    assert {r["delivery_type"] for r in usage} == {"Self-Managed", "SaaS"}
    assert {s["product_tier_name"].split(" - ")[1] for s in subs} == {"Premium", "Ultimate"}
    per_account = Counter(s["dim_crm_account_id"] for s in subs)
    assert max(per_account.values()) >= 3
    assert any(s["subscription_end_date"] and s["subscription_end_date"] < months[-1] for s in subs)  # ended
    assert any(s["subscription_start_date"] > months[0] for s in subs)  # started mid-period
    assert any(s["arr"] == "" for s in subs)

    assert {r["instance_type"] for r in usage} >= {
        "Unknown", "Non-Production", "Obsolete", "Production", "Geo Secondary Node", ""
    }  # fmt: skip
    assert "Opt-Out" in {r["included_in_health_measures_str"] for r in usage}
    assert any(r["ping_created_at"] == "" for r in usage)
    assert any(r["ci_builds_28_days_event_post_16_9"] == "" and r["ping_created_at"] for r in usage)
    assert any(r["is_usage_ping_license_mapped_to_subscription"] == "false" for r in usage)
    assert len(usage[0]) - 24 - 18 >= 20  # ~20 non-scored metric columns besides the scored ones

    # User adoption: monthly active users never below a user count; one adoption column left out.
    assert "umau_28_days_user" in usage[0] and "issues_28_days_user" in usage[0]
    assert "service_desk_issues_28_days_user" not in usage[0]
    reported = [r for r in usage if r["umau_28_days_user"]]
    assert reported and all(int(r["umau_28_days_user"]) >= int(r["ci_pipelines_28_days_user"] or 0) for r in reported)
    # Subscription Data only: a Production instance pinging with license data and no usage metric.
    license_only = [
        r
        for r in usage
        if r["ping_created_at"] and r["license_user_count"] and r["instance_type"] == "Production"
        and not r["ci_builds_28_days_event"] and not r["umau_28_days_user"]
    ]  # fmt: skip
    assert {r["dim_crm_account_id"] for r in license_only} >= {accounts[2]["dim_crm_account_id"]}

    # An instance or namespace reports under two subscriptions only as the warehouse shows it: a renewal
    # overlapping the subscription it renews (one month), the same ping and counts under both.
    by_instance_month: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in usage:
        key = r["dim_installation_id"] or r["dim_namespace_id"] or r["uuid"] + r["hostname"]
        by_instance_month.setdefault((r["snapshot_month"], key), []).append(r)
    shared = [rows for rows in by_instance_month.values() if len(rows) > 1]
    assert shared, "the demo shows renewal overlaps"
    by_id = {s["dim_subscription_id_original"]: s for s in subs}
    for rows in shared:
        assert len(rows) == 2
        a, b = rows
        same = {k for k in a if not k.startswith("dim_subscription_id")}
        assert all(a[k] == b[k] for k in same), "one ping, the same figures under both subscriptions"
        old, new = sorted(
            (by_id[r["dim_subscription_id_original"]] for r in rows), key=lambda x: x["subscription_start_date"]
        )
        assert old["subscription_end_date"] and old["subscription_end_date"][:7] == a["snapshot_month"][:7]
        assert old["licensed_seats"] == new["licensed_seats"]

    # A spread of colours: e.g. SCM (git users / billable users) in Red, Yellow and Green bands.
    scm = Counter()
    for r in usage:
        if r["ping_created_at"] and r["billable_user_count"] and r["instance_type"] == "Production":
            if not r["action_monthly_active_users_project_repo_28_days_user"]:
                continue  # shares Subscription Data only
            ratio = int(r["action_monthly_active_users_project_repo_28_days_user"]) / int(r["billable_user_count"])
            scm["Red" if ratio <= 0.10 else "Yellow" if ratio <= 0.33 else "Green"] += 1
    assert set(scm) == {"Red", "Yellow", "Green"}


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    generate_export(tmp_path / "a", accounts=12, months=4, seed=5, today=TODAY)
    generate_export(tmp_path / "b", accounts=12, months=4, seed=5, today=TODAY)
    generate_export(tmp_path / "c", accounts=12, months=4, seed=6, today=TODAY)
    for name in ("accounts.csv", "subscriptions.csv", "usage_monthly.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a" / "usage_monthly.csv").read_bytes() != (tmp_path / "c" / "usage_monthly.csv").read_bytes()


def test_demo_command_writes_syncs_and_says_what_to_try(settings: Settings, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--accounts", "12", "--months", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "usage_monthly.csv").is_file()
    assert 'usagebot try "/usage acme"' in result.output
    assert 'usagebot report "Acme Corp"' in result.output
    assert "Metrics Dictionary sample:" in result.output
    with session_scope(settings.database_url) as s:
        assert s.scalars(select(Account.name).where(Account.name_key.like("acme%"))).all()
        assert s.scalars(select(Instance).where(Instance.label == "Unknown")).first() is not None
        run = s.scalars(select(SyncRun)).one()
        assert run.status == "succeeded"
        assert run.as_of_month == last_full_month(date.today())
    assert count(settings.database_url, "usage_monthly") == run.usage_rows
