"""Exactly one GitLab issue per metric request: double submits, outages, refusals, a crash, duplicates.

Over HTTP: the Bolt app with FakeSlack, python-gitlab against FakeGitLab, a real database.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from click.testing import CliRunner
from fakes.gitlab import TOKEN, FakeGitLab
from fakes.signing import post
from fakes.slack import FakeSlack
from sqlalchemy import select
from support.request_helpers import (
    PROJECT,
    TAM,
    candidates_shown,
    events,
    open_modal,
    request_id_of,
    submission_body,
    view_click_body,
    wait_view,
)

from bot.cli import cli
from db.models import GitLabFiling, MetricRequest, MetricRequestRequester
from db.session import session_scope
from workflows.gitlab_client import DEFAULT_MAX_RETRIES, make_gitlab
from workflows.settings import load_settings

WHAT = "Number of merge requests reverted per project each month"
TRIES = DEFAULT_MAX_RETRIES + 1  # python-gitlab's attempts at one GET on a transient error


def _start(
    app_url: str, fake: FakeSlack, what: str = WHAT, user_id: str = TAM, user_name: str = "avery"
) -> tuple[str, int]:
    """Open the modal, submit it; the view id and the request id."""
    view_id, _ = open_modal(app_url, fake, user_id)
    reply = post(events(app_url), submission_body(view_id, what, user_id=user_id, user_name=user_name))
    assert reply.json()["response_action"] == "update"
    return view_id, request_id_of(candidates_shown(fake, view_id))


def _click(app_url: str, view_id: str, action: str, value: dict[str, Any], user_id: str = TAM) -> None:
    assert post(events(app_url), view_click_body(view_id, action, value, user_id=user_id)).status == 200


def _parallel(*calls: Any) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(i: int, fn: Any) -> None:
        try:
            results[i] = fn()
        except BaseException as exc:  # re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    return results


def _request(db_url: str) -> MetricRequest:
    with session_scope(db_url) as s:
        return s.scalars(select(MetricRequest).order_by(MetricRequest.id)).first()  # type: ignore[return-value]


def test_double_submit_and_double_click_file_one_issue(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    view_id, _ = open_modal(app_url, fake_slack)
    body = submission_body(view_id, WHAT)
    fake_slack.reset_calls()
    replies = _parallel(lambda: post(events(app_url), body), lambda: post(events(app_url), body))
    assert [r.json()["response_action"] for r in replies] == ["update", "update"]
    shown = fake_slack.wait_for("views.update", 2)
    ids = {
        request_id_of(c.params["view"] if isinstance(c.params["view"], dict) else json.loads(c.params["view"]))
        for c in shown
    }
    assert len(ids) == 1
    request_id = ids.pop()
    # Sequential submit again, then "None of these" clicked twice at once.
    post(events(app_url), body)
    _parallel(
        lambda: _click(app_url, view_id, "mr_none", {"r": request_id}),
        lambda: _click(app_url, view_id, "mr_none", {"r": request_id}),
    )
    wait_view(fake_slack, view_id, "/-/issues/1")
    fake_slack.wait_for("views.update", 6)  # both clicks finished (checking, filing, result each)
    assert len(fake_gitlab.issues(PROJECT)) == 1
    with session_scope(req_settings.database_url) as s:
        assert len(s.scalars(select(MetricRequest)).all()) == 1
        assert len(s.scalars(select(GitLabFiling)).all()) == 1
    assert len(fake_slack.dm_messages(TAM)) == 1
    assert len(fake_slack.messages["C0PRODANA1"]) == 1


def test_gitlab_503_keeps_it_pending_then_retry_files_once_and_dms(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    view_id, request_id = _start(app_url, fake_slack)
    fake_gitlab.fail(503, times=2 * TRIES)  # the duplicate search, then the marker search before creating
    _click(app_url, view_id, "mr_none", {"r": request_id})
    text = wait_view(fake_slack, view_id, "saved")
    assert "GitLab is unavailable; your request is saved and will be filed automatically; I'll DM you the link" in text
    assert "HTTP 503" in text
    assert fake_gitlab.issues(PROJECT) == []
    with session_scope(req_settings.database_url) as s:
        filing = s.scalars(select(GitLabFiling)).one()
        assert filing.status == "pending" and filing.attempts == 1 and "503" in (filing.last_error or "")
        assert s.get(MetricRequest, request_id).status == "pending"  # type: ignore[union-attr]
    assert fake_slack.dm_messages(TAM) == []

    result = CliRunner().invoke(cli, ["requests", "retry"])
    assert result.exit_code == 0, result.output
    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 1 and f"filed: Metric request: {WHAT}" in result.output
    assert issues[0]["web_url"] in result.output
    dm = fake_slack.dm_messages(TAM)
    assert len(dm) == 1 and issues[0]["web_url"] in dm[0]["text"]
    assert _request(req_settings.database_url).status == "filed"
    # A second pass has nothing left to do.
    again = CliRunner().invoke(cli, ["requests", "retry"])
    assert again.exit_code == 0 and "0 filed, 0 still pending" in again.output
    assert len(fake_gitlab.issues(PROJECT)) == 1 and len(fake_slack.dm_messages(TAM)) == 1


def test_gitlab_401_is_pending_with_a_clear_reason(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings, monkeypatch
) -> None:
    view_id, request_id = _start(app_url, fake_slack)
    fake_gitlab.fail(401, times=2)  # not retried by python-gitlab: the duplicate search and the marker search
    _click(app_url, view_id, "mr_none", {"r": request_id})
    text = wait_view(fake_slack, view_id, "saved")
    assert "GitLab refused the token (401 Unauthorized); check GITLAB_TOKEN" in text
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-revoked")
    result = CliRunner().invoke(cli, ["requests", "retry"])
    assert result.exit_code == 1
    assert "still pending: Metric request:" in result.output
    assert "GitLab refused the token (401 Unauthorized); check GITLAB_TOKEN" in result.output
    assert "glpat-revoked" not in result.output and TOKEN not in result.output
    assert fake_gitlab.issues(PROJECT) == []
    with session_scope(req_settings.database_url) as s:
        filing = s.scalars(select(GitLabFiling)).one()
        assert filing.status == "pending" and filing.attempts == 2


def test_crash_between_create_and_record_is_resolved_by_the_marker(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    view_id, request_id = _start(app_url, fake_slack)
    fake_gitlab.fail(503, times=2 * TRIES)
    _click(app_url, view_id, "mr_none", {"r": request_id})
    wait_view(fake_slack, view_id, "saved")
    # A worker created the issue in GitLab and died before recording it: the row is still pending.
    with session_scope(req_settings.database_url) as s:
        filing = s.scalars(select(GitLabFiling)).one()
        title, description = filing.title, filing.description
    gl = make_gitlab(load_settings(_env_file=None, gitlab_url=fake_gitlab.url, gitlab_token=TOKEN))
    gl.projects.get(PROJECT, lazy=True).issues.create({"title": title, "description": description})

    result = CliRunner().invoke(cli, ["requests", "retry"])
    assert result.exit_code == 0, result.output
    assert "found already filed" in result.output
    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 1
    request = _request(req_settings.database_url)
    assert request.status == "filed" and request.issue_iid == issues[0]["iid"]
    assert len(fake_slack.dm_messages(TAM)) == 1


def test_duplicates_offer_add_me_locally_and_in_gitlab(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    # Someone filed this earlier.
    first_view, first_id = _start(app_url, fake_slack)
    _click(app_url, first_view, "mr_none", {"r": first_id})
    wait_view(fake_slack, first_view, "/-/issues/1")
    # An issue filed by hand in GitLab, same subject, with the label.
    gl = make_gitlab(load_settings(_env_file=None, gitlab_url=fake_gitlab.url, gitlab_token=TOKEN))
    gl.projects.get(PROJECT, lazy=True).issues.create(
        {
            "title": "Metric request: merge requests reverted per project monthly",
            "description": "## Objective\n\nCount merge requests reverted, per project, every month",
            "labels": "analytics instrumentation",
        }
    )

    other = "U0TAM0002"
    view_id, request_id = _start(app_url, fake_slack, "Merge requests reverted per project each month", other, "blake")
    _click(app_url, view_id, "mr_none", {"r": request_id}, other)
    text = wait_view(fake_slack, view_id, "Add me to it")
    assert "File a new one" in text and "/-/issues/1" in text and "/-/issues/2" in text
    refs = [
        json.loads(b["accessory"]["value"])["t"]
        for b in fake_slack.views[view_id]["blocks"]
        if b.get("accessory", {}).get("action_id") == "mr_add_me"
    ]
    assert sorted(refs) == sorted([f"local:{first_id}", "gitlab:2"])

    _click(app_url, view_id, "mr_add_me", {"r": request_id, "t": f"local:{first_id}"}, other)
    wait_view(fake_slack, view_id, "You're added")
    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 2  # nothing new filed
    notes = fake_gitlab.issues(PROJECT)[0]["notes"]
    assert len(notes) == 1 and "+1 from **blake**" in notes[0]["body"]
    with session_scope(req_settings.database_url) as s:
        people = s.scalars(select(MetricRequestRequester).where(MetricRequestRequester.request_id == first_id)).all()
        assert [p.user_id for p in people] == [TAM, other] and people[1].noted_on_issue
        assert s.get(MetricRequest, request_id).status == "joined"  # type: ignore[union-attr]

    # The GitLab-only request works the same way (a third person).
    third = "U0TAM0003"
    view3, req3 = _start(app_url, fake_slack, "Merge requests reverted per project each month", third, "casey")
    _click(app_url, view3, "mr_add_me", {"r": req3, "t": "gitlab:2"}, third)
    text = wait_view(fake_slack, view3, "You're added")
    assert "/-/issues/2" in text
    assert "+1 from **casey**" in fake_gitlab.issues(PROJECT)[1]["notes"][0]["body"]
    assert len(fake_gitlab.issues(PROJECT)) == 2


def test_file_a_new_one_files_despite_a_duplicate(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    first_view, first_id = _start(app_url, fake_slack)
    _click(app_url, first_view, "mr_none", {"r": first_id})
    wait_view(fake_slack, first_view, "/-/issues/1")
    view_id, request_id = _start(app_url, fake_slack, WHAT + " please", "U0TAM0002", "blake")
    _click(app_url, view_id, "mr_none", {"r": request_id}, "U0TAM0002")
    wait_view(fake_slack, view_id, "File a new one")
    _click(app_url, view_id, "mr_file_new", {"r": request_id}, "U0TAM0002")
    wait_view(fake_slack, view_id, "/-/issues/2")
    assert len(fake_gitlab.issues(PROJECT)) == 2


def test_joining_a_pending_request_gets_the_dm_and_the_note_once_filed(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    first_view, first_id = _start(app_url, fake_slack)
    fake_gitlab.fail(503, times=2 * TRIES)
    _click(app_url, first_view, "mr_none", {"r": first_id})
    wait_view(fake_slack, first_view, "saved")

    other = "U0TAM0002"
    view_id, request_id = _start(app_url, fake_slack, "Merge requests reverted per project each month", other, "blake")
    _click(app_url, view_id, "mr_none", {"r": request_id}, other)
    wait_view(fake_slack, view_id, "Add me to it")
    assert "being filed" in json.dumps(fake_slack.views[view_id]["blocks"])
    _click(app_url, view_id, "mr_add_me", {"r": request_id, "t": f"local:{first_id}"}, other)
    assert "being filed" in wait_view(fake_slack, view_id, "You're added")

    result = CliRunner().invoke(cli, ["requests", "retry"])
    assert result.exit_code == 0, result.output
    issues = fake_gitlab.issues(PROJECT)
    assert len(issues) == 1
    assert [n["body"].split(":")[0] for n in issues[0]["notes"]] == ["+1 from **blake** (via Slack)"]
    for user in (TAM, other):
        dms = fake_slack.dm_messages(user)
        assert len(dms) == 1 and issues[0]["web_url"] in dms[0]["text"]


def test_a_failed_channel_note_is_retried_without_repeating_the_dm(
    app_url: str, fake_slack: FakeSlack, fake_gitlab: FakeGitLab, req_settings
) -> None:
    view_id, request_id = _start(app_url, fake_slack)
    fake_gitlab.fail(503, times=2 * TRIES)
    _click(app_url, view_id, "mr_none", {"r": request_id})
    wait_view(fake_slack, view_id, "saved")
    channel = fake_slack.channels.pop("C0PRODANA1")  # the bot was removed from the channel meanwhile

    result = CliRunner().invoke(cli, ["requests", "retry"])
    assert result.exit_code == 1 and "filed, but telling people failed" in result.output
    assert len(fake_slack.dm_messages(TAM)) == 1 and len(fake_gitlab.issues(PROJECT)) == 1

    fake_slack.channels["C0PRODANA1"] = channel
    result = CliRunner().invoke(cli, ["requests", "retry"])
    assert result.exit_code == 0, result.output
    assert len(fake_slack.dm_messages(TAM)) == 1 and len(fake_gitlab.issues(PROJECT)) == 1
    assert len(fake_slack.messages["C0PRODANA1"]) == 1
