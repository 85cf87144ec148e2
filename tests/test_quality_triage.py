"""Data-quality triage over HTTP: modal -> thread in #cs-product-analytics -> DM with the link; upstream ->
one confidential GitLab issue (python-gitlab against FakeGitLab), pending while GitLab is down, linked later."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from click.testing import CliRunner
from fakes.gitlab import TOKEN, FakeGitLab
from fakes.signing import block_action_payload, interaction_body, post, slash_body
from fakes.slack import TEAM_ID, FakeSlack
from fakes.wsgi import serve
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import select
from support.scoring_helpers import add_account, add_instance, add_subscription, add_usage

from bot.app import build_app
from bot.blocks.ids import REPORT_ISSUE_ACTION, encode_value
from bot.blocks.limits import check_limits
from bot.cli import cli
from bot.features.data_quality.blocks import CALLBACK_ID, INSTANCE_BLOCK, METRIC_BLOCK, SCOPE_BLOCK, WHAT_BLOCK
from db.models import DataIssue, SyncRun
from db.session import session_scope
from workflows import outbox
from workflows.settings import Settings, load_settings

ACC = "0016100001AcMeQ"
OCT = date(2026, 10, 1)
CHANNEL = "C0PRODANA1"
REPORTER = "U0TAM0001"
PROJECT = "gitlab-data/analytics"
# The data-quality feature and /usage (whose `report` subcommand opens its modal).
FEATURES = ("bot.features.data_quality", "bot.features.usage")


@pytest.fixture
def fake_gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab() as fake:
        yield fake


@pytest.fixture
def dq_settings(
    bot_settings: Settings, fake_gitlab: FakeGitLab, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    fake_slack.add_user(REPORTER, "avery", "avery@example.com")
    monkeypatch.setenv("GITLAB_URL", fake_gitlab.url)  # for the CLI (`usagebot requests retry`)
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    values = {k: v for k, v in bot_settings.model_dump().items()}
    values.update(gitlab_url=fake_gitlab.url, gitlab_token=TOKEN)
    for k in ("slack_bot_token", "slack_signing_secret"):
        values[k] = bot_settings.secret(k)
    return load_settings(_env_file=None, **values)


@pytest.fixture
def app_url(dq_settings: Settings) -> Iterator[str]:
    with serve(SlackRequestHandler(build_app(dq_settings, FEATURES), path="/slack/events")) as url:
        yield url + "/slack/events"


@pytest.fixture
def instance_id(db_url: str) -> int:
    with session_scope(db_url) as s:
        acc = add_account(s, ACC, "Acme Corp", since=date(2024, 1, 1))
        acc.tam_email = "avery@example.com"
        add_subscription(s, ACC, "SUB1")
        prod = add_instance(s, ACC, "acme-prod", installation_id="inst-4242")
        add_instance(s, ACC, "acme-test", "Non-Production")
        add_usage(s, prod, "SUB1", date(2026, 9, 1), billable_user_count=90)
        add_usage(
            s,
            prod,
            "SUB1",
            OCT,
            billable_user_count=100,
            license_user_count=200,
            ci_builds_28_days_event=1234,
            ping_created_at=datetime(2026, 10, 28, 4, 12, tzinfo=UTC),
        )
        s.add(SyncRun(source="test", status="succeeded", as_of_month=OCT, finished_at=datetime.now(UTC)))
        s.flush()
        return prod.id


def _open_from_button(url: str, fake_slack: FakeSlack, instance: int, metric: str | None = None) -> dict[str, Any]:
    before = len(fake_slack.calls_to("views.open"))
    value = encode_value(a=ACC, v="health", i=instance, m=metric)
    reply = post(url, interaction_body(block_action_payload(REPORT_ISSUE_ACTION, value, user_id=REPORTER)))
    assert reply.status == 200
    call = fake_slack.wait_for("views.open", before + 1)[-1]
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _submission(
    view: dict[str, Any],
    view_id: str,
    what: str,
    scope: str | None,
    metric: str | None = None,
    instance: int | None = None,
) -> str:
    values: dict[str, Any] = {
        WHAT_BLOCK: {"value": {"type": "plain_text_input", "value": what}},
        METRIC_BLOCK: {"value": {"type": "plain_text_input", "value": metric}},
        SCOPE_BLOCK: {"value": {"type": "radio_buttons", "selected_option": {"value": scope} if scope else None}},
    }
    if instance is not None:
        values[INSTANCE_BLOCK] = {"value": {"type": "static_select", "selected_option": {"value": str(instance)}}}
    payload = {
        "type": "view_submission",
        "team": {"id": TEAM_ID, "domain": "test"},
        "user": {"id": REPORTER, "username": "avery", "name": "avery", "team_id": TEAM_ID},
        "api_app_id": "A0APP0001",
        "token": "verification_token",
        "trigger_id": "333.444.trigger",
        "view": {
            **view,
            "id": view_id,
            "team_id": TEAM_ID,
            "state": {"values": values},
            "hash": "h" + view_id,
        },
        "response_urls": [],
        "is_enterprise_install": False,
    }
    return interaction_body(payload)


def _wait(pred, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _thread(fake_slack: FakeSlack) -> list[dict[str, Any]]:
    return [m for m in fake_slack.messages[CHANNEL] if not m.get("thread_ts")]


def _replies(fake_slack: FakeSlack, ts: str) -> list[dict[str, Any]]:
    return [m for m in fake_slack.messages[CHANNEL] if m.get("thread_ts") == ts]


def test_modal_thread_and_confirmation(app_url, fake_slack, fake_gitlab, instance_id, db_url) -> None:  # type: ignore[no-untyped-def]
    view = _open_from_button(app_url, fake_slack, instance_id, metric="billable_user_count")
    meta = json.loads(view["private_metadata"])
    assert meta == {"a": ACC, "i": instance_id, "m": "billable_user_count", "v": "health"}
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[METRIC_BLOCK]["element"]["initial_value"] == "billable_user_count"
    assert blocks[INSTANCE_BLOCK]["element"]["initial_option"]["value"] == str(instance_id)
    assert {o["value"] for o in blocks[SCOPE_BLOCK]["element"]["options"]} == {"upstream", "this_view", "unsure"}

    body = _submission(
        view,
        "V0DQ0001",
        "Billable users show 100 but the license app says 180.",
        "this_view",
        "billable_user_count",
        instance_id,
    )
    reply = post(app_url, body)
    assert reply.status == 200 and reply.body in ("", "null")
    _wait(lambda: len(fake_slack.dm_messages(REPORTER)) == 1)

    parents = _thread(fake_slack)
    assert len(parents) == 1
    text = parents[0]["text"] + json.dumps(parents[0]["blocks"])
    for expected in (
        "Acme Corp",
        ACC,
        "acme-prod.example.com",
        "billable_user_count",
        "2026-10",
        f"<@{REPORTER}>",
        "Billable users: 100",
        "License count: 200",
        "2026-10-28 04:12 UTC",
        "Billable users show 100 but the license app says 180.",
    ):
        assert expected in text, expected
    assert check_limits(parents[0]["blocks"]) == [] and check_limits(view["blocks"], "modal") == []
    dm = fake_slack.dm_messages(REPORTER)[0]["text"]
    assert f"https://test.slack.com/archives/{CHANNEL}/p{parents[0]['ts'].replace('.', '')}" in dm
    assert fake_gitlab.created() == []  # not upstream: no issue

    def confirmed() -> bool:
        # The DM goes out before the report is marked confirmed: wait for the record, not just the DM.
        with session_scope(db_url) as s:
            return bool(s.scalars(select(DataIssue.confirmed)).one())

    _wait(confirmed)
    with session_scope(db_url) as s:
        issue = s.scalars(select(DataIssue)).one()
        assert issue.thread_ts == parents[0]["ts"] and issue.confirmed and issue.gitlab_status == "none"
        assert issue.facts["metric_value"] == 100.0 and issue.facts["month"] == "2026-10"


def test_validation_errors_in_the_modal(app_url, fake_slack, instance_id, db_url) -> None:  # type: ignore[no-untyped-def]
    view = _open_from_button(app_url, fake_slack, instance_id)
    reply = post(app_url, _submission(view, "V0DQ0002", "  ", None))
    assert reply.status == 200
    answer = reply.json()
    assert answer["response_action"] == "errors"
    assert set(answer["errors"]) == {WHAT_BLOCK, SCOPE_BLOCK}
    reply = post(app_url, _submission(view, "V0DQ0002", "wrong", "unsure"))
    assert "at least" in reply.json()["errors"][WHAT_BLOCK]
    time.sleep(0.3)
    with session_scope(db_url) as s:
        assert s.scalars(select(DataIssue)).all() == []
    assert _thread(fake_slack) == []


def test_upstream_files_one_confidential_issue_linked_in_thread(
    app_url, fake_slack, fake_gitlab, instance_id, db_url
) -> None:  # type: ignore[no-untyped-def]
    view = _open_from_button(app_url, fake_slack, instance_id, metric="ci_builds_28_days_event")
    body = _submission(
        view,
        "V0DQ0003",
        "CI builds are far lower than the license app shows.",
        "upstream",
        "ci_builds_28_days_event",
        instance_id,
    )
    assert post(app_url, body).status == 200
    assert post(app_url, body).status == 200  # a double submit
    _wait(lambda: len(fake_slack.dm_messages(REPORTER)) >= 1)
    time.sleep(0.3)  # let a second (wrong) run finish if there were one

    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 1 and len(_thread(fake_slack)) == 1 and len(fake_slack.dm_messages(REPORTER)) == 1
    issue = issues[0]
    assert issue["confidential"] is True and issue["labels"] == ["data quality"]
    desc = issue["description"]
    assert "Epic: gitlab-data&216" in desc and ACC in desc and "inst-4242" in desc and "1234" in desc
    assert "Acme" not in desc and "avery" not in desc and "@example.com" not in desc and "acme-prod" not in desc
    assert outbox.marker("dq:V0DQ0003") in desc
    parent = _thread(fake_slack)[0]
    replies = _replies(fake_slack, parent["ts"])
    assert len(replies) == 1 and issue["web_url"] in replies[0]["text"]
    assert issue["web_url"] in fake_slack.dm_messages(REPORTER)[0]["text"]
    with session_scope(db_url) as s:
        row = s.scalars(select(DataIssue)).one()
        assert (row.gitlab_status, row.issue_url, row.issue_linked) == ("filed", issue["web_url"], True)


def test_gitlab_down_then_back_files_once_and_links(
    app_url, fake_slack, fake_gitlab, instance_id, dq_settings, db_url
) -> None:  # type: ignore[no-untyped-def]
    # One failed create (the outbox never blindly retries a create): the report waits for the retry pass.
    fake_gitlab.fail(503, times=1, only="POST")
    view = _open_from_button(app_url, fake_slack, instance_id)
    body = _submission(view, "V0DQ0004", "License count looks doubled compared with the license app.", "upstream")
    assert post(app_url, body).status == 200
    _wait(lambda: len(fake_slack.dm_messages(REPORTER)) == 1)
    parent = _thread(fake_slack)[0]
    assert fake_gitlab.issues(PROJECT) == []
    pending = _replies(fake_slack, parent["ts"])
    assert len(pending) == 1 and "will be filed automatically" in pending[0]["text"]
    assert "will be filed as soon as GitLab answers" in fake_slack.dm_messages(REPORTER)[0]["text"]
    with session_scope(db_url) as s:
        assert s.scalars(select(DataIssue)).one().gitlab_status == "pending"

    # GitLab is back: the retry pass (scheduler / `usagebot requests retry`) files it once and links it.
    retry = CliRunner().invoke(cli, ["requests", "retry"])
    assert retry.exit_code == 0, retry.output
    assert "1 filed, 0 still pending, 1 follow-ups done" in retry.output
    again = CliRunner().invoke(cli, ["requests", "retry"])
    assert again.exit_code == 0 and "0 filed" in again.output
    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 1 and issues[0]["confidential"] is True
    replies = _replies(fake_slack, parent["ts"])
    assert len(replies) == 2 and issues[0]["web_url"] in replies[1]["text"]
    with session_scope(db_url) as s:
        row = s.scalars(select(DataIssue)).one()
        assert row.gitlab_status == "filed" and row.issue_linked


def test_usage_report_subcommand_opens_the_modal(app_url, fake_slack, instance_id) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("bot.features.usage.command")
    reply = post(app_url, slash_body("Acme Corp report", user_id=REPORTER, response_url=fake_slack.response_url()))
    assert reply.status == 200
    call = fake_slack.wait_for("views.open")[-1]
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == CALLBACK_ID and json.loads(view["private_metadata"])["a"] == ACC


def test_full_app_routes_the_button_to_the_modal(bot_url, dq_settings, fake_slack, instance_id) -> None:  # type: ignore[no-untyped-def]
    # The whole bot (every feature): the button reaches the data-quality feature.
    value = encode_value(a=ACC, v="summary")
    payload = block_action_payload(REPORT_ISSUE_ACTION, value, user_id=REPORTER)
    assert post(f"{bot_url}/slack/events", interaction_body(payload)).status == 200
    view = fake_slack.wait_for("views.open")[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == CALLBACK_ID
    assert check_limits(view["blocks"], "modal") == []
    # Opened from the summary: no metric; the account's main instance is pre-selected.
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert "initial_value" not in blocks[METRIC_BLOCK]["element"]
    assert blocks[INSTANCE_BLOCK]["element"]["initial_option"]["value"] == str(instance_id)
    # Opened from the utilization view: billable users is the metric in question.
    payload = block_action_payload(REPORT_ISSUE_ACTION, encode_value(a=ACC, v="utilization"), user_id=REPORTER)
    assert post(f"{bot_url}/slack/events", interaction_body(payload)).status == 200
    view = fake_slack.wait_for("views.open", 2)[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks[METRIC_BLOCK]["element"]["initial_value"] == "billable_user_count"


def test_thread_refused_then_posted_by_the_retry_pass(app_url, fake_slack, fake_gitlab, instance_id, db_url) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from sqlalchemy import update

    fake_slack.fail("chat.postMessage", times=1, error="channel_not_found")  # the thread is refused
    view = _open_from_button(app_url, fake_slack, instance_id)
    body = _submission(view, "V0DQ0005", "Billable users doubled overnight, the license app disagrees.", "upstream")
    assert post(app_url, body).status == 200
    _wait(lambda: len(fake_slack.dm_messages(REPORTER)) == 1)
    assert _thread(fake_slack) == []
    assert "will be posted automatically" in fake_slack.dm_messages(REPORTER)[0]["text"]
    # Nothing is lost: the upstream issue was filed anyway, once.
    assert len(fake_gitlab.issues(PROJECT)) == 1
    with session_scope(db_url) as s:
        s.execute(update(DataIssue).values(created_at=datetime.now(UTC) - timedelta(minutes=5)))

    retry = CliRunner().invoke(cli, ["requests", "retry"])
    assert retry.exit_code == 0, retry.output
    parents = _thread(fake_slack)
    assert len(parents) == 1 and "Billable users doubled overnight" in str(parents[0]["blocks"])
    replies = _replies(fake_slack, parents[0]["ts"])
    assert len(replies) == 1 and fake_gitlab.issues(PROJECT)[0]["web_url"] in replies[0]["text"]
    dms = fake_slack.dm_messages(REPORTER)
    assert len(dms) == 2 and parents[0]["ts"].replace(".", "") in dms[1]["text"]
    # A second pass does nothing more.
    assert CliRunner().invoke(cli, ["requests", "retry"]).exit_code == 0
    assert len(_thread(fake_slack)) == 1 and len(fake_slack.dm_messages(REPORTER)) == 2
    assert len(fake_gitlab.issues(PROJECT)) == 1
