"""The guided metric request over HTTP: Bolt app + FakeSlack + FakeGitLab (python-gitlab), real database."""

from __future__ import annotations

import json

from fakes.gitlab import FakeGitLab
from fakes.signing import block_action_payload, interaction_body, post, slash_body
from fakes.slack import FakeSlack
from sqlalchemy import select
from support.request_helpers import (
    PM,
    PROJECT,
    TAM,
    candidates_shown,
    events,
    open_modal,
    shortcut_body,
    submission_body,
    view_click_body,
    view_text,
    wait_view,
)

from bot.blocks.limits import check_limits
from db.models import Account, MetricRequest
from db.session import session_scope
from workflows.outbox import marker


def _submit(app_url: str, view_id: str, what: str, **kw: object) -> dict:
    reply = post(events(app_url), submission_body(view_id, what, **kw))  # type: ignore[arg-type]
    assert reply.status == 200
    return reply.json() if reply.body else {}


def test_slash_command_opens_the_form(app_url: str, fake_slack: FakeSlack) -> None:
    reply = post(events(app_url), slash_body("request-metric", user_id=TAM, trigger_id="555.666.trigger"))
    assert reply.status == 200
    call = fake_slack.wait_for("views.open")[-1]
    assert call.params["trigger_id"] == "555.666.trigger"
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "metric_request"
    assert json.loads(view["private_metadata"])["c"] == "C0GENERAL1"


def test_guests_are_refused(app_url: str, fake_slack: FakeSlack) -> None:
    fake_slack.add_user("U0GUEST01", "gus", is_restricted=True)
    assert post(events(app_url), shortcut_body("U0GUEST01")).status == 200
    call = fake_slack.wait_for("views.open")[-1]
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] != "metric_request" and "submit" not in view
    assert "guest accounts" in json.dumps(view["blocks"])


def test_shortcut_opens_the_form_with_product_groups(app_url: str, fake_slack: FakeSlack) -> None:
    _, view = open_modal(app_url, fake_slack)
    assert view["callback_id"] == "metric_request" and len(view["title"]["text"]) <= 24
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert set(blocks) >= {"mr_what", "mr_area", "mr_kind", "mr_why", "mr_account"}
    areas = [o["value"] for o in blocks["mr_area"]["element"]["options"]]
    assert areas == ["code_review", "pipeline_execution", "source_code"]  # active definitions' groups
    kinds = [o["text"]["text"] for o in blocks["mr_kind"]["element"]["options"]]
    assert kinds == ["Total events", "Unique users", "Per project", "Per namespace", "By tier"]
    assert blocks["mr_what"].get("optional") is not True and blocks["mr_account"]["optional"] is True
    assert check_limits(view["blocks"], "modal") == []


def test_bad_descriptions_get_errors_in_the_modal_and_store_nothing(
    app_url: str, fake_slack: FakeSlack, req_settings
) -> None:
    view_id, _ = open_modal(app_url, fake_slack)
    for what, words in (("", "describe"), ("   \n ", "describe"), ("too short", "at least"), ("x" * 5000, "5,000")):
        answer = _submit(app_url, view_id, what)
        assert answer["response_action"] == "errors"
        assert words in answer["errors"]["mr_what"]
    with session_scope(req_settings.database_url) as s:
        assert s.scalars(select(MetricRequest)).all() == []


def test_this_is_it_records_an_answered_request(app_url: str, fake_slack: FakeSlack, req_settings) -> None:
    view_id, _ = open_modal(app_url, fake_slack)
    answer = _submit(app_url, view_id, "How many merge request approvals did they give last month?")
    assert answer["response_action"] == "update"  # "Looking for existing metrics…" at once
    shown = candidates_shown(fake_slack, view_id)
    assert check_limits(shown["blocks"], "modal") == []
    picks = [b["accessory"] for b in shown["blocks"] if b.get("accessory", {}).get("action_id") == "mr_pick"]
    first = json.loads(picks[0]["value"])
    assert first["k"] == "counts.merge_request_approvals_monthly"
    text = view_text(shown)
    assert "last 28 days" in text and "premium, ultimate" in text and "health scoring" in text and "active" in text
    assert any(b.get("block_id") == "mr_none" for b in shown["blocks"])

    fake_slack.reset_calls()
    assert post(events(app_url), view_click_body(view_id, "mr_pick", first)).status == 200
    final = wait_view(fake_slack, view_id, "it already exists")
    assert "counts.merge_request_approvals_monthly" in final and "Service Ping" in final
    assert "https://metrics.gitlab.com/?q=counts.merge_request_approvals_monthly" in final
    with session_scope(req_settings.database_url) as s:
        request = s.scalars(select(MetricRequest)).one()
        assert request.status == "answered"
        assert request.answered_key_path == "counts.merge_request_approvals_monthly"
        assert request.requester_id == TAM


def test_when_no_metric_fits_it_says_so_and_files_straight_away(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    view_id, _ = open_modal(app_url, fake_slack)
    fake_slack.reset_calls()
    _submit(app_url, view_id, "Average time to first review of merge requests")
    wait_view(fake_slack, view_id, "/-/issues/1")
    shown = [c.params["view"] for c in fake_slack.calls_to("views.update")]
    texts = [json.dumps(v) if isinstance(v, dict) else str(v) for v in shown]
    # Said plainly, and no metric offered as if it fitted.
    assert any("Nothing in the Metrics Dictionary measures this" in t for t in texts)
    assert not any('"mr_pick"' in t for t in texts)
    assert len(fake_gitlab.issues(PROJECT)) == 1
    with session_scope(req_settings.database_url) as s:
        request = s.scalars(select(MetricRequest)).one()
        assert request.status == "filed" and request.candidates == []


def test_none_of_these_files_one_issue_with_the_template(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    view_id, _ = open_modal(app_url, fake_slack)
    what = "Number of merge requests reverted per project each month"
    _submit(
        app_url,
        view_id,
        what,
        area="code_review",
        kind="per_project",
        why="Acme's leadership tracks review quality",
        account="Acme Corp",
    )
    shown = candidates_shown(fake_slack, view_id)
    rejected = [
        json.loads(b["accessory"]["value"])["k"]
        for b in shown["blocks"]
        if b.get("accessory", {}).get("action_id") == "mr_pick"
    ]
    assert rejected
    request_id = json.loads(next(b for b in shown["blocks"] if b.get("block_id") == "mr_none")["elements"][0]["value"])
    fake_slack.reset_calls()
    assert post(events(app_url), view_click_body(view_id, "mr_none", request_id)).status == 200
    # The modal shows the link last: after the issue, the DM and the channel note.
    wait_view(fake_slack, view_id, "/-/issues/1")

    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 1
    issue = issues[0]
    assert issue["title"].startswith("Metric request: Number of merge requests reverted per project")
    assert issue["labels"] == ["analytics instrumentation"] and issue["confidential"] is False
    body = issue["description"]
    for section in ("## Objective", "## Events and Metrics", "## Next steps", "| Description |"):
        assert section in body
    assert f"@{PM}" in body and "**avery**" in body and "**Acme Corp**" in body
    assert "Acme's leadership tracks review quality" in body and "Per project" in body and "code_review" in body
    for key_path in rejected:
        assert f"`{key_path}`" in body
    with session_scope(req_settings.database_url) as s:
        request = s.scalars(select(MetricRequest)).one()
        assert request.status == "filed" and request.issue_url == issue["web_url"]
        assert marker(request.filing_key or "") in body

    assert issue["web_url"] in view_text(fake_slack.views[view_id])
    dm = fake_slack.dm_messages(TAM)
    assert len(dm) == 1 and issue["web_url"] in dm[0]["text"]
    note = fake_slack.messages["C0PRODANA1"]
    assert len(note) == 1 and issue["web_url"] in note[0]["text"] and "avery" in note[0]["text"]


def test_request_metric_button_prefills_the_account(app_url: str, fake_slack: FakeSlack, req_settings) -> None:
    with session_scope(req_settings.database_url) as s:
        s.add(Account(id="0010000000ACME", name="Acme Corp", name_key="acme corp"))
    payload = block_action_payload("usage_request_metric", json.dumps({"a": "0010000000ACME"}))
    assert post(events(app_url), interaction_body(payload)).status == 200
    call = fake_slack.wait_for("views.open")[-1]
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    account = next(b for b in view["blocks"] if b.get("block_id") == "mr_account")
    assert account["element"]["initial_value"] == "Acme Corp"
    assert json.loads(view["private_metadata"])["c"] == "C0GENERAL1"


def test_many_product_groups_use_an_external_select(app_url: str, fake_slack: FakeSlack) -> None:
    from bot.features.metric_request.blocks import form_view

    areas = [f"group_{i:03d}" for i in range(150)]
    view = form_view(areas)
    area = next(b for b in view["blocks"] if b.get("block_id") == "mr_area")["element"]
    assert area["type"] == "external_select" and area["action_id"] == "mr_product_area"
    assert check_limits(view["blocks"], "modal") == []
    # Slack asks the app for options as the person types (served from the imported dictionary).
    suggestion = {
        "type": "block_suggestion",
        "user": {"id": TAM, "username": "avery", "team_id": "T0TEAM01"},
        "team": {"id": "T0TEAM01", "domain": "test"},
        "api_app_id": "A0APP0001",
        "token": "verification_token",
        "container": {"type": "view", "view_id": "V1"},
        "action_id": "mr_product_area",
        "block_id": "mr_area",
        "value": "pipe",
        "view": {"id": "V1", "type": "modal", "callback_id": "metric_request"},
    }
    reply = post(events(app_url), interaction_body(suggestion))
    assert reply.status == 200
    assert [o["value"] for o in reply.json()["options"]] == ["pipeline_execution"]
