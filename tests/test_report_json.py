"""`usagebot report` end to end on the real database (SQLite and PostgreSQL): JSON shape, relabelling, CLI."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from click.testing import CliRunner
from sqlalchemy import select
from support.scoring_helpers import add_account, add_instance, add_subscription, add_usage

from bot.cli import cli
from db.models import Instance, SyncRun
from db.session import session_scope
from workflows.report import build_account_report, report_to_json

OCT = date(2026, 10, 1)
SEP = date(2026, 9, 1)
ACC = "0016100001AbCdE"

GOOD = {
    "last_activity_28_days_user": 90,
    "action_monthly_active_users_project_repo_28_days_user": 40,
    "ci_builds_28_days_event_post_16_9": 5000,
    "deployments_28_days_user": 20,
    "deployments_28_days_event": 900,
    "successful_deployments_28_days_event": 90,
    "failed_deployments_28_days_event": 10,
}


def seed(url: str) -> None:
    with session_scope(url) as s:
        add_account(s, ACC, "Acme Corp", since=date(2024, 1, 1))
        add_account(s, "0016100001ZzZzZ", "Globex Córp.")
        add_subscription(s, ACC, "SUB1", arr=48000.0, licensed_seats=200)
        add_subscription(s, ACC, "SUB2", product_tier_name="Self-Managed - Ultimate", arr=None, licensed_seats=50)
        prod = add_instance(s, ACC, "prod", "Production", last_version="17.3.2")
        unknown = add_instance(s, ACC, "unknown", "Unknown", last_version="16.1.0")
        for month in (SEP, OCT):
            add_usage(s, prod, "SUB1", month, billable_user_count=100, **GOOD)
            # The Unknown instance carries SUB2 (Ultimate): it counts only once someone labels it Production.
            add_usage(
                s,
                unknown,
                "SUB2",
                month,
                billable_user_count=60,
                license_user_count=50,
                cleaned_version="16.1.0",
                license_mapped=False,
                user_unique_users_all_secure_scanners_28_days_user=30,
                sast_scans_28_days_event=300,
                dast_scans_28_days_event=100,
                container_scanning_scans_28_days_event=5,
                ci_internal_pipelines_28_days_event=400,
                **GOOD,
            )
        s.add(SyncRun(source="test", status="succeeded", as_of_month=OCT, finished_at=datetime.now(UTC)))


def test_report_json_shape(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as s:
        data = report_to_json(build_account_report(s, ACC))
    assert set(data) >= {
        "account",
        "as_of",
        "month",
        "measures",
        "overall",
        "reporting_share",
        "subscriptions",
        "instances",
        "flags",
    }
    assert data["account"] == {"id": ACC, "name": "Acme Corp", "tam_email": "tam@example.com"}
    assert data["as_of"] == "2026-10" and data["month"] == "2026-10"
    assert list(data["measures"]) == ["license_utilization", "user_engagement", "scm", "ci", "cd", "security"]
    for m in data["measures"].values():
        assert set(m) == {"value", "score", "color"}
        assert m["score"] in (25, 63, 88, None)
        assert m["color"] in ("Red", "Yellow", "Green", "No data", "N/A")
    # Only SUB1 counts (the Ultimate subscription's instance is Unknown): 100 / 200 at 33 months -> Red.
    assert data["measures"]["license_utilization"] == {"value": 0.5, "score": 25, "color": "Red"}
    assert data["measures"]["security"] == {"value": None, "score": None, "color": "No data"}
    assert data["measures"]["scm"] == {"value": 0.4, "score": 88, "color": "Green"}
    # Reporting share by ARR: SUB2 has no ARR, SUB1 (all the ARR) reports.
    assert data["reporting_share"] == 1.0
    subs = {x["name"]: x for x in data["subscriptions"]}
    assert subs["A-SUB1"]["reporting"] is True and subs["A-SUB2"]["reporting"] is False
    assert subs["A-SUB2"]["primary_instance"] is None
    inst = {x["hostname"]: x for x in data["instances"]}
    assert inst["prod.example.com"]["primary"] is True
    assert inst["unknown.example.com"]["primary"] is False
    assert inst["prod.example.com"]["last_ping"] == "2026-10-20T04:00:00Z"
    assert subs["A-SUB1"]["primary_instance"] == inst["prod.example.com"]["id"]
    assert set(inst["prod.example.com"]["measures"]) == set(data["measures"])
    kinds = {(f["kind"], f["instance"]) for f in data["flags"]}
    unknown_id = inst["unknown.example.com"]["id"]
    assert ("license_unmapped", unknown_id) in kinds
    assert ("version_behind", unknown_id) in kinds  # 16.1 vs 17.3: 14 minor versions
    assert all(f["message"] for f in data["flags"])
    json.dumps(data)  # serialisable as is


def test_relabel_changes_account_score(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as s:
        before = build_account_report(s, ACC)
    with session_scope(db_url) as s:
        unknown = s.scalars(select(Instance).where(Instance.hostname == "unknown.example.com")).one()
        unknown.label, unknown.label_source = "Production", "person"
    with session_scope(db_url) as s:
        after = build_account_report(s, ACC)
    assert before.measures["security"].color == "No data"
    # Now SUB2 (Ultimate) reports: security gets a score; SUB2 has no ARR so weight 0 for the ratios.
    sec = after.measures["security"]
    assert sec.color == "Green" and sec.score == 88  # 30/60 users, 405/400 scans, 3 types
    assert after.overall.score != before.overall.score
    assert after.measures["license_utilization"].value == 0.5
    assert [e.reason for e in after.measures["license_utilization"].left_out if "no ARR" in e.reason]
    assert after.subscriptions[1].reporting is True


def test_report_month_and_trends(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as s:
        rep = build_account_report(s, ACC, month=SEP)
    assert rep.month == SEP
    assert len(rep.trends.months) == 12 and rep.trends.months[-1] == SEP
    lic = rep.trends.measures["license_utilization"]
    assert lic[-1].value == 0.5 and lic[-2].value is None and lic[-1].change is None
    with session_scope(db_url) as s:
        rep = build_account_report(s, ACC)
    assert rep.trends.measures["license_utilization"][-1].change == 0.0
    assert rep.trends.licensed_seats[-1].value == 250


def test_cli_report_json_and_text(settings, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    runner = CliRunner()
    res = runner.invoke(cli, ["report", "acme corp", "--json"], env={"DATABASE_URL": db_url})
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["account"]["id"] == ACC
    res = runner.invoke(cli, ["report", "GLOBEX CORP", "--month", "2026-10"], env={"DATABASE_URL": db_url})
    assert res.exit_code == 0, res.output
    assert "Globex Córp." in res.output and "No data" in res.output
    res = runner.invoke(cli, ["report", ACC], env={"DATABASE_URL": db_url})
    assert res.exit_code == 0
    assert "SCM is Green: 40 of 100 billable users did a Git operation in the last 28 days (40%)" in res.output
    assert "unknown.example.com: not Production (labelled Unknown)" in res.output


def test_cli_unknown_account_and_bad_month(settings, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    runner = CliRunner()
    # The CLI finds accounts as /usage does: a close misspelling is the account; nothing close is an error.
    res = runner.invoke(cli, ["report", "Acme Crop"], env={"DATABASE_URL": db_url})
    assert res.exit_code == 0 and res.output.startswith("Acme Corp (")
    res = runner.invoke(cli, ["report", "Qqqzzz Holdings"], env={"DATABASE_URL": db_url})
    assert res.exit_code == 1
    assert "No account matches 'Qqqzzz Holdings'" in res.output and "Traceback" not in res.output
    res = runner.invoke(cli, ["report", "Acme Corp", "--month", "2026-13"], env={"DATABASE_URL": db_url})
    assert res.exit_code == 2 and "YYYY-MM" in res.output


def test_cli_bad_rules_file(settings, db_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    bad = tmp_path / "rules.yaml"
    bad.write_text("name: broken\nscores: {Red: 25}\n")
    res = CliRunner().invoke(cli, ["report", ACC], env={"DATABASE_URL": db_url, "SCORING_RULES": str(bad)})
    assert res.exit_code == 1
    assert str(bad) in res.output and "measures: Field required" in res.output


def test_opt_out_rows_never_count(db_url: str) -> None:
    seed(db_url)
    with session_scope(db_url) as s:
        big = add_instance(s, ACC, "optout", "Production", last_version="17.3.2")
        add_usage(
            s,
            big,
            "SUB1",
            OCT,
            billable_user_count=190,
            included_in_health="opt-out",
            action_monthly_active_users_project_repo_28_days_user=0,
        )
    with session_scope(db_url) as s:
        rep = build_account_report(s, ACC)
    sub1 = next(x for x in rep.subscriptions if x.info.id == "SUB1")
    hostnames = {i.instance.id: i.instance.hostname for i in rep.instances}
    assert hostnames[sub1.primary_instance_id] == "prod.example.com"
    assert rep.measures["scm"].value == 0.4
    assert any("optout.example.com: marked Opt-Out" in e.reason for e in rep.measures["scm"].left_out)


def test_two_accounts_with_one_name_ask_for_the_id(settings, db_url: str) -> None:  # type: ignore[no-untyped-def]
    seed(db_url)
    with session_scope(db_url) as s:
        add_account(s, "0016100001DupeA", "Twin Co")
        add_account(s, "0016100001DupeB", "TWIN CO.")
    res = CliRunner().invoke(cli, ["report", "twin co"], env={"DATABASE_URL": db_url})
    assert res.exit_code == 1
    assert "0016100001DupeA" in res.output and "0016100001DupeB" in res.output
    res = CliRunner().invoke(cli, ["report", "0016100001DupeB", "--json"], env={"DATABASE_URL": db_url})
    assert res.exit_code == 0 and json.loads(res.output)["account"]["name"] == "TWIN CO."
