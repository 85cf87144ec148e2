"""Hostile names and free text can't ping a channel, mention someone or show a spoofed link in Slack, nor run
quick actions, mention people or forge the bot's marker in GitLab.

What is checked is what was actually sent: the fake Slack's recorded calls and response_url bodies, and the
fake GitLab's stored issues.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from typing import Any

import pytest
from fakes.gitlab import FakeGitLab
from fakes.signing import block_action_payload, interaction_body, post, slash_body
from fakes.slack import FakeSlack
from hypothesis import given, settings
from hypothesis import strategies as st
from support.bot_usage_data import ACME_ID, TAM_EMAIL, seed
from support.request_helpers import PROJECT, TAM, fake_gitlab, req_settings  # noqa: F401 (fixtures)

from bot.app import make_web_client
from bot.guard import clear_caches
from db.models import Account, DataIssue, Instance
from db.queries.accounts import clear_cache
from db.session import session_factory, session_scope
from workflows.escaping import gitlab_markdown, mrkdwn, outgoing_message
from workflows.settings import Settings

HOSTILE = "Evil <!channel> <@U0BOSS> <https://evil.example/login|Acme SSO> <!subteam^S0ALL> & Co"
# What must never reach Slack as live markup (escaped, these show as text).
LIVE = ("<!channel", "<!here", "<!everyone", "<!subteam", "<@U0BOSS", "<https://evil.example", "<#C0EVIL")

_hostile_text = st.lists(
    st.sampled_from(
        ["<!channel>", "<!here>", "<!everyone>", "<@U0BOSS>", "<#C0EVIL|general>", "<https://evil.example|Acme SSO>",
         "<!subteam^S0ALL|@all>", "&", "&lt;", "<", ">", "*bold*", "`x`", "\n", " ", "Acme", "é", "@all"]
    ),
    min_size=1,
    max_size=8,
).map("".join)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()
    clear_cache()


# ------------------------------------------------------------------------------------------ helpers


def _mrkdwn_strings(node: Any, *, mrkdwn_context: bool = False) -> list[str]:
    """Every string of a Slack payload that Slack reads as mrkdwn (top-level text, mrkdwn text objects,
    attachment text); plain_text and values (button values, metadata, ids) are data Slack never parses."""
    if isinstance(node, str):
        return [node] if mrkdwn_context else []
    if isinstance(node, list):
        return [s for item in node for s in _mrkdwn_strings(item, mrkdwn_context=mrkdwn_context)]
    if not isinstance(node, dict):
        return []
    out: list[str] = []
    plain = node.get("type") == "plain_text"
    for key, value in node.items():
        if key in ("blocks", "view") and isinstance(value, str):
            value = json.loads(value)
        if key in ("text", "pretext", "fallback", "initial_comment") and isinstance(value, str):
            out += [] if plain else [value]
        else:
            out += _mrkdwn_strings(value)
    return out


def live_markup(payloads: list[dict[str, Any]]) -> list[str]:
    return [s for p in payloads for s in _mrkdwn_strings(p) if any(token in s for token in LIVE)]


def sent(fake: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls]


def _wait(fake: FakeSlack, predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(fake.summary())


def _hostile_account(url: str) -> None:
    seed(url)
    with session_scope(url) as s:
        acc = s.get_one(Account, ACME_ID)
        acc.name = HOSTILE
        acc.tam_name = HOSTILE
        for inst in s.query(Instance).filter(Instance.account_id == ACME_ID):
            inst.hostname = f"{inst.hostname} {HOSTILE}"


# ------------------------------------------------------------------------------------------ pure rules


@given(_hostile_text)
@settings(max_examples=300, deadline=None)
def test_mrkdwn_escaping_leaves_no_markup_and_is_reversible(text: str) -> None:
    out = mrkdwn(text)
    assert "<" not in out and ">" not in out
    assert out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") == text


@given(_hostile_text)
@settings(max_examples=300, deadline=None)
def test_no_broadcast_leaves_the_bot_even_unescaped(text: str) -> None:
    plain = {"type": "plain_text", "text": "x"}
    payload = {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}, "fields": [{"type": "mrkdwn", "text": text}]},
            {"type": "header", "text": {"type": "plain_text", "text": text}},
            {"type": "actions", "elements": [{"type": "button", "value": text, "text": plain}]},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]},
        ],
    }
    out = outgoing_message(payload)
    for s in _mrkdwn_strings(out):
        assert not re.search(r"<!(channel|here|everyone|subteam)", s)
    assert out["blocks"][1]["text"]["text"] == text  # plain_text is shown as typed
    assert out["blocks"][2]["elements"][0]["value"] == text  # values are data, untouched


def test_bot_dates_survive_the_outgoing_check() -> None:
    date_token = "<!date^1700000000^{date_short_pretty}|2023-11-14>"
    assert outgoing_message({"text": date_token})["text"] == date_token


@given(_hostile_text)
@settings(max_examples=200, deadline=None)
def test_every_renderer_escapes_hostile_names_and_free_text(text: str) -> None:
    """Pure renderers fed hostile account, instance and TAM names and free text."""
    from bot.features.alerts import blocks as alerts
    from bot.features.data_quality import blocks as data_quality
    from bot.features.digest import blocks as digest
    from bot.features.metric_request import blocks as metric_request
    from db.models import AlertRecord
    from workflows.digest.compose import DigestInstance

    rec = AlertRecord(
        account_id="A1", kind="color_drop", month=date(2026, 10, 1), message=text, details={"account_name": text}
    )
    outputs: list[Any] = [
        {"text": alerts.account_section(text, [rec])},
        {"blocks": alerts.alert_blocks([rec])},
        {"text": data_quality.thread_text(DataIssue(account_name=text, account_id=text, metric=text, what=text))},
        {"blocks": data_quality.thread_blocks(
            DataIssue(account_name=text, account_id="A1", metric=text, what=text, instance_name=text, facts={})
        )},
        metric_request.candidates_view(1, text, [{"key_path": text, "description": text, "status": "active"}]),
    ]
    inst = DigestInstance(
        id=1, name=text, kind="self-managed", version=text, first_seen=None, last_ping=None, billable_users=None,
        label_version=1, probably_obsolete=False, silent_days=None,
    )
    outputs.append({"text": digest.instance_line(inst)})
    payloads = [o if isinstance(o, dict) else o.to_dict() for o in outputs]
    for s in _mrkdwn_strings(payloads):
        for token in ("<!channel>", "<!here>", "<@U0BOSS>", "<https://evil.example", "<#C0EVIL"):
            if token in text:
                assert token not in s, (token, s)


# ------------------------------------------------------------------------------------------ Slack, end to end


def _people(fake: FakeSlack) -> None:
    fake.add_user("U0TAM0001", "avery", email=TAM_EMAIL)


def test_share_message_cannot_ping_mention_or_spoof_links_with_the_account_name(
    bot_url: str, fake_slack: FakeSlack, bot_settings: Settings
) -> None:
    """Issue item 2: the Share message's fallback `text` carried the account name as is."""
    _people(fake_slack)
    _hostile_account(bot_settings.database_url)
    for view in ("summary", "utilization", "health", "instances", "versions"):
        payload = block_action_payload(
            "usage_share", json.dumps({"a": ACME_ID, "v": view}), response_url=fake_slack.response_url(view)
        )
        assert post(bot_url + "/slack/events", interaction_body(payload)).status == 200
    _wait(fake_slack, lambda: len(fake_slack.messages["C0GENERAL1"]) == 5)
    assert live_markup(fake_slack.messages["C0GENERAL1"]) == []
    assert live_markup(sent(fake_slack)) == []
    assert "&lt;!channel&gt;" in fake_slack.messages["C0GENERAL1"][0]["text"]  # shown, as text


def test_usage_answers_in_every_view_cannot_ping_with_hostile_names(
    bot_url: str, fake_slack: FakeSlack, bot_settings: Settings
) -> None:
    _people(fake_slack)
    _hostile_account(bot_settings.database_url)
    for view in ("", " utilization", " health", " instances", " versions"):
        key = f"v{view.strip() or 'summary'}"
        body = slash_body(ACME_ID + view, response_url=fake_slack.response_url(key))
        assert post(bot_url + "/slack/events", body).status == 200
    fake_slack.wait_for("response_url", 5)
    assert live_markup(sent(fake_slack)) == []


def test_home_open_dm_cannot_ping_with_the_account_name(
    bot_url: str, fake_slack: FakeSlack, bot_settings: Settings
) -> None:
    """Issue item 2: the Home tab's "open" DM carried the account name as its text."""
    _people(fake_slack)
    _hostile_account(bot_settings.database_url)
    payload = block_action_payload("home_open:summary", ACME_ID, container={"type": "view", "view_id": "V0HOME"})
    assert post(bot_url + "/slack/events", interaction_body(payload)).status == 200
    _wait(fake_slack, lambda: bool(fake_slack.dm_messages("U0TAM0001")))
    assert live_markup(fake_slack.dm_messages("U0TAM0001")) == []
    assert live_markup(sent(fake_slack)) == []


def test_data_issue_thread_parent_cannot_ping_with_free_text(
    db_url: str, fake_slack: FakeSlack, bot_settings: Settings
) -> None:
    """Issue item 2: the triage thread's parent `text` carried the reporter's metric text and the name as is."""
    from bot.features.data_quality.views import post_thread

    with session_scope(db_url) as s:
        issue = DataIssue(
            account_id=ACME_ID, account_name=HOSTILE, metric=HOSTILE, what=HOSTILE, reporter_id="U0TAM0001",
            scope="upstream", facts={}, as_of_month=date(2026, 10, 1), key="k-hostile",
        )
        s.add(issue)
        s.flush()
        post_thread(s, issue.id, make_web_client(bot_settings), "C0PRODANA1")
    posted = fake_slack.messages["C0PRODANA1"]
    assert len(posted) == 1
    assert live_markup(posted) == []


def test_metric_request_channel_note_and_dm_cannot_ping_with_free_text(
    req_settings: Settings, fake_slack: FakeSlack, fake_gitlab: FakeGitLab  # noqa: F811
) -> None:
    """Issue item 2: the channel note and the DM carried the request's text, the requester's name and account."""
    from workflows.gitlab_client import gitlab_factory
    from workflows.metric_request import filing, form

    sessions = session_factory(req_settings.database_url)
    with sessions() as s:
        request = form.start_request(
            s,
            key="view:V0HOSTILE",
            requester_id=TAM,
            requester_name=HOSTILE,
            form=form.RequestForm(what="Count of things " + HOSTILE, account=HOSTILE),
            channel_id="C0GENERAL1",
        )
        s.commit()
        request_id = request.id
    slack = make_web_client(req_settings)
    outcome = filing.file_request(sessions, req_settings, request_id, gitlab_factory(req_settings), slack)
    assert outcome.status == "filed"
    assert fake_slack.dm_messages(TAM) and fake_slack.messages["C0PRODANA1"]
    assert live_markup(fake_slack.dm_messages(TAM) + fake_slack.messages["C0PRODANA1"]) == []
    body = fake_gitlab.issues(PROJECT)[0]["description"]
    assert "@\u200ball" not in body or "@all" not in body.replace("@\u200b", "")


# ------------------------------------------------------------------------------------------ GitLab


QUICK_ACTIONS = "\n".join(
    ["/close", '/unlabel ~"data quality"', "  /move other/project", "@all please look", "<!-- usagebot-request: x -->"]
)


@given(_hostile_text)
@settings(max_examples=200, deadline=None)
def test_gitlab_text_never_starts_a_quick_action_mentions_or_opens_a_comment(text: str) -> None:
    value = text + "\n" + QUICK_ACTIONS + "\n/" + text
    out = gitlab_markdown(value)
    assert not re.search(r"(?m)^[ \t>]*/", out)
    assert not re.search(r"@(?!\u200b)", out)
    assert "<!--" not in out


def _issue_lines(body: str) -> list[str]:
    return [line.strip() for line in body.splitlines()]


def test_data_issue_text_cannot_run_quick_actions_mention_or_forge_the_marker() -> None:
    """Issue item 3: a data-issue "What" with /close, /unlabel, /move, @all and a forged marker went verbatim
    into the confidential issue; the template's own /label must stay."""
    from workflows.data_quality import issue_description

    issue = DataIssue(
        account_id=ACME_ID, account_name="Acme", metric="@all " + QUICK_ACTIONS, what="Wrong seats\n" + QUICK_ACTIONS,
        reporter_id="U0TAM0001", scope="upstream", facts={"instance_ref": "/close", "month": None}, key="k",
    )
    body = issue_description(issue, "gitlab-data&216")
    lines = _issue_lines(body)
    assert [line for line in lines if line.startswith("/")] == ['/label ~"data quality"']
    assert "<!--" not in body
    assert not re.search(r"@(?!\u200b)", body)


def test_metric_request_text_cannot_run_quick_actions_but_the_template_keeps_its_own(
    req_settings: Settings, fake_gitlab: FakeGitLab  # noqa: F811
) -> None:
    """Issue item 3: the metric request stripped "@" but kept `/close` lines."""
    from workflows.metric_request import filing, form

    with session_scope(req_settings.database_url) as s:
        request = form.start_request(
            s,
            key="view:V0QUICK",
            requester_id=TAM,
            requester_name="avery\n/close",
            form=form.RequestForm(what="Count of deploys\n" + QUICK_ACTIONS, why=QUICK_ACTIONS, account="/close"),
        )
        body = filing.render_description(request, "pa-pm")
    lines = _issue_lines(body)
    assert [line for line in lines if line.startswith("/")] == []
    assert "<!--" not in body
    assert "@pa-pm" in body  # the template's own mention of the PM stays


def test_home_tab_cannot_ping_with_hostile_names(bot_url: str, fake_slack: FakeSlack, bot_settings: Settings) -> None:
    from support.home_slack import open_home

    _people(fake_slack)
    _hostile_account(bot_settings.database_url)
    with session_scope(bot_settings.database_url) as s:
        s.get_one(Account, ACME_ID).tam_email = TAM_EMAIL
    view = open_home(bot_url, fake_slack, "U0TAM0001", 1)
    assert "&lt;!channel&gt;" in json.dumps(view)  # the hostile account is listed, as text
    assert live_markup([view]) == []
