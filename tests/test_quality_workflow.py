"""workflows.data_quality without Slack: the facts a report carries, validation, the upstream issue text."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from support.scoring_helpers import add_account, add_instance, add_subscription, add_usage

from db.models import DataIssue, Instance, SyncRun
from db.session import session_scope
from workflows.data_quality import (
    ReportError,
    issue_description,
    issue_title,
    load_context,
    submit_report,
    validate,
)

OCT = date(2026, 10, 1)


def _seed(url: str) -> None:
    with session_scope(url) as s:
        add_account(s, "ACC1", "Initech").tam_email = "tam@initech-csm.example"
        add_account(s, "ACC2", "Other Corp")
        add_subscription(s, "ACC1", "S1")
        add_subscription(s, "ACC2", "S2")
        big = add_instance(s, "ACC1", "big", installation_id="inst-1")
        small = add_instance(s, "ACC1", "small", installation_id="inst-2")
        other = add_instance(s, "ACC2", "other")
        add_usage(s, big, "S1", OCT, billable_user_count=150, extra_metrics={"counts.projects": 77})
        add_usage(s, small, "S1", OCT, billable_user_count=5)
        # A row after the as-of month is not "held" yet.
        add_usage(s, big, "S1", date(2026, 11, 1), billable_user_count=999)
        add_usage(s, other, "S2", OCT, billable_user_count=42)
        s.add(SyncRun(source="t", status="succeeded", as_of_month=OCT, finished_at=datetime.now(UTC)))


def test_context_facts_default_instance_and_forged_ids(db_url: str) -> None:
    _seed(db_url)
    with session_scope(db_url) as s:
        other_id = s.scalar(select(Instance.id).where(Instance.identity == "sm:other"))
        small_id = s.scalar(select(Instance.id).where(Instance.identity == "sm:small"))
        ctx = load_context(s, "ACC1", None, "counts.projects")
        assert ctx.instance_name == "big.example.com" and ctx.as_of == OCT
        assert ctx.facts["billable_users"] == 150 and ctx.facts["month"] == "2026-10"
        assert ctx.facts["metric_known"] and ctx.facts["metric_value"] == 77.0
        assert ctx.instance_ref == "installation id `inst-1`"
        # Another account's instance id is never shown: the account's own default is used.
        forged = load_context(s, "ACC1", other_id, None)
        assert forged.instance_name == "big.example.com" and forged.facts["billable_users"] == 150
        chosen = load_context(s, "ACC1", small_id, "no_such_metric")
        assert chosen.facts["billable_users"] == 5 and chosen.facts["metric_known"] is False
        with pytest.raises(ReportError):
            load_context(s, "NOPE", None, None)


def test_validation_messages() -> None:
    assert validate("", None, None).keys() == {"what", "scope"}
    assert "at least" in validate("short", None, "upstream")["what"]
    assert "under" in validate("x" * 3000, None, "upstream")["what"]
    assert validate("The number is clearly off.", "m" * 300, "sideways").keys() == {"metric", "scope"}
    assert validate("The number is clearly off.", "billable_user_count", "upstream") == {}


def test_submit_is_idempotent_and_issue_text_has_no_customer_details(db_url: str) -> None:
    _seed(db_url)
    with session_scope(db_url) as s:
        args = dict(
            account_id="ACC1",
            instance_id=None,
            metric="counts.projects",
            what="Project count is 77 here, 12 in the license app.",
            scope="upstream",
            reporter_id="U1",
            reporter_name="avery",
        )
        first, created = submit_report(s, key="V1", **args)
        again, created_again = submit_report(s, key="V1", **args)
        assert created and not created_again and again.id == first.id
        assert s.scalar(select(DataIssue.gitlab_status)) == "pending"
        with pytest.raises(ReportError):
            submit_report(s, key="V2", **{**args, "what": ""})
        text = issue_description(first, "gitlab-data&216")
        title = issue_title(first)
    assert "Epic: gitlab-data&216" in text and "`ACC1`" in text and "inst-1" in text and "| 77 |" in text
    assert "2026-10" in text and "Project count is 77 here" in text
    for secret in ("Initech", "big.example.com", "tam@", "avery", "U1"):
        assert secret not in text and secret not in title
