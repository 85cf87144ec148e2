"""`/usage` end to end: signed HTTP requests into the running WSGI app, Slack answered by the fake Slack.

Assertions are on what the person would see: the response_url payloads and the chat/files calls recorded.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import Any

import pytest
from fakes.signing import block_action_payload, interaction_body, post, slash_body
from fakes.slack import FakeSlack
from support.bot_usage_data import ACME_ID, GLOBEX_ID, TAM_EMAIL, seed

from bot.blocks.limits import check_limits
from bot.guard import clear_caches
from db.queries.accounts import clear_cache
from workflows.settings import Settings

_keys = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()
    clear_cache()


@pytest.fixture
def people(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_user("U0TAM0001", "avery", email=TAM_EMAIL)
    fake_slack.add_user("U0OTHER01", "blake", email="blake@example.com")
    fake_slack.add_user("U0ADMIN01", "casey", email="casey@example.com")
    fake_slack.add_user("U0GUEST01", "gus", email="gus@partner.example", is_restricted=True)
    fake_slack.add_user("U0EXTERN1", "ext", email="ext@other.example", team_id="T0OTHER99")
    fake_slack.add_channel("C0SHARED1", name="acme-shared", is_ext_shared=True)
    return fake_slack


def _all_text(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks") or [], ensure_ascii=False) + "\n" + str(payload.get("text") or "")


def _wait_response(fake: FakeSlack, key: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = [c.params for c in fake.calls_to("response_url") if c.path.endswith("/" + key)]
        if got:
            return got[-1]
        time.sleep(0.02)
    raise AssertionError(f"no response on {key}: {fake.summary()}")


def ask(url: str, fake: FakeSlack, text: str, *, user: str = "U0TAM0001", channel: str = "C0GENERAL1") -> dict:
    key = f"r{next(_keys)}"
    reply = post(
        url + "/slack/events", slash_body(text, user_id=user, channel_id=channel, response_url=fake.response_url(key))
    )
    assert reply.status == 200, reply.body
    assert reply.elapsed < 3.0  # acknowledged within Slack's 3 seconds
    answer = _wait_response(fake, key)
    assert answer.get("response_type", "ephemeral") == "ephemeral"
    assert check_limits(answer.get("blocks") or []) == []
    return answer


def click(
    url: str, fake: FakeSlack, action_id: str, value: str, *, user: str = "U0TAM0001", channel: str = "C0GENERAL1"
) -> dict:
    key = f"a{next(_keys)}"
    payload = block_action_payload(
        action_id, value, user_id=user, channel_id=channel, response_url=fake.response_url(key)
    )
    reply = post(url + "/slack/events", interaction_body(payload))
    assert reply.status == 200, reply.body
    answer = _wait_response(fake, key)
    assert check_limits(answer.get("blocks") or []) == []
    return answer


def _buttons(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for b in answer.get("blocks") or []:
        for e in b.get("elements") or []:
            if e.get("type") == "button":
                out.setdefault(e["action_id"], e)
    return out


# ------------------------------------------------------------------------------------------ subcommands


def test_summary_shows_account_as_of_and_buttons(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    answer = ask(bot_url, people, "acme corp")
    text = _all_text(answer)
    assert "Acme Corp" in text and "Data as of *2026-10*" in text
    assert "Product health" in text and "seats" in text and "Unknown" in text
    assert any(c in text for c in ("🔴 Red", "🟡 Yellow", "🟢 Green"))
    buttons = _buttons(answer)
    assert {"usage_view:utilization", "usage_view:health", "usage_view:instances", "usage_view:trends"} <= set(buttons)
    assert {"usage_share", "usage_report_issue", "usage_request_metric"} <= set(buttons)
    assert json.loads(buttons["usage_view:health"]["value"]) == {"a": ACME_ID}


def test_each_view(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    util = _all_text(ask(bot_url, people, "Acme Corp utilization"))
    assert "A-S-ACME-1" in util and "of 200 seats" in util and "customer for" in util
    health = _all_text(ask(bot_url, people, "acme corp health"))
    assert "action_monthly_active_users_project_repo_28_days_user` = " in health  # the metric values behind SCM
    for words in ("License utilization", "SCM", "CI", "CD", "Security", "Formula", "weights", "Left out"):
        assert words in health, words
    inst = _all_text(ask(bot_url, people, "acme corp instances"))
    assert "gitlab001.acme.com" in inst and "behind" in inst and "last ping" in inst and "primary" in inst
    versions = ask(bot_url, people, f"{ACME_ID} versions")
    vtext = _all_text(versions)
    # oldest first: 17.0.1 before 17.1.1 before 17.2.1
    assert vtext.index("gitlab000") < vtext.index("gitlab001") < vtext.index("gitlab002")
    trends = ask(bot_url, people, "acme corp trends")
    assert any(ch in _all_text(trends) for ch in "▁▂▃▄▅▆▇█")
    people.wait_for("files.completeUploadExternal")
    assert people.calls_to("conversations.open")[0].params["users"] == "U0TAM0001"
    uploads = people.calls_to("files.completeUploadExternal")
    assert uploads[0].params["channel_id"] == people.dm_channel_id("U0TAM0001")
    assert people.calls_to("upload")[0].params["size"] > 1000  # a real PNG went up


def test_help_and_empty_text(bot_url: str, people: FakeSlack) -> None:
    for text in ("", "help", "   "):
        answer = _all_text(ask(bot_url, people, text))
        assert "/usage acme health" in answer


def test_subcommands_route_to_their_features(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    """Every `/usage` subcommand another feature answers is one line in a table, resolved when used."""
    from bot.features.usage import command as usage

    for name in usage.GLOBAL_SUBCOMMANDS:
        assert usage.GLOBAL_NAMES[name] == name and callable(usage.global_handler(name))
    for name in usage.ACCOUNT_SUBCOMMANDS:
        assert usage.ALIASES[name] == name and callable(usage.account_handler(name))
    assert usage.account_handler("summary") is None  # the usage views are answered by /usage itself
    seed(bot_settings.database_url)
    # a guest never reaches a subcommand handler
    assert "guest" in _all_text(ask(bot_url, people, "acme corp report", user="U0GUEST01"))


def test_ambiguous_name_offers_buttons_and_pick_runs_same_view(
    bot_url: str, people: FakeSlack, bot_settings: Settings
) -> None:
    seed(bot_settings.database_url)
    answer = ask(bot_url, people, "acme health")
    buttons = _buttons(answer)
    picks = [b for aid, b in buttons.items() if aid.startswith("usage_pick:")]
    assert sorted(b["text"]["text"] for b in picks) == ["Acme Corp", "Acme Labs"]
    corp = next(b for b in picks if b["text"]["text"] == "Acme Corp")
    picked = click(bot_url, people, corp["action_id"], corp["value"])
    assert picked["replace_original"] is True
    assert "Acme Corp · Health" in _all_text(picked)


def test_unknown_name_suggests_nearest(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    text = _all_text(ask(bot_url, people, "Globx Corporatoin Intl"))
    assert "Globex Corporation" in text  # a fuzzy match is found, or suggested
    # Nothing close: no list of unrelated names, no buttons.
    answer = ask(bot_url, people, "qqqzzzxxx trends")
    text = _all_text(answer)
    assert "couldn't find" in text and "No account name is close" in text and "Did you mean" not in text
    assert not [aid for aid in _buttons(answer) if aid.startswith("usage_pick:")]


@pytest.mark.parametrize(
    "text",
    [
        "x" * 10_000,
        "🎉🎉🎉 :tada:",
        "'; DROP TABLE accounts; --",
        "acme%' OR 1=1 --",
        "<script>alert(1)</script> *bold* <@U0OTHER01|blake> <!channel>",
        "acme corp \u0000\u202e health",
    ],
)
def test_odd_input_gets_a_helpful_answer(bot_url: str, people: FakeSlack, bot_settings: Settings, text: str) -> None:
    seed(bot_settings.database_url)
    answer = ask(bot_url, people, text)
    shown = _all_text(answer)
    assert "Traceback" not in shown and "SQL" not in shown and "something went wrong" not in shown
    assert "<script>" not in shown and "<!channel>" not in shown  # markup is escaped, never echoed
    from db.models import Account
    from db.session import session_scope

    with session_scope(bot_settings.database_url) as s:
        assert s.query(Account).count() == 3  # nothing happened to the data


# ------------------------------------------------------------------------------------------ who sees what


def test_guest_and_external_users_are_refused(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    guest = _all_text(ask(bot_url, people, "acme corp", user="U0GUEST01"))
    external = _all_text(ask(bot_url, people, "acme corp", user="U0EXTERN1"))
    assert "guest" in guest and "Acme Corp" not in guest
    assert "members of this workspace" in external and "Acme Corp" not in external


def test_no_customer_data_in_slack_connect_channel(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    answer = _all_text(ask(bot_url, people, "acme corp", channel="C0SHARED1"))
    assert "Slack Connect" in answer and "Product health" not in answer
    # a share click from such a channel is refused too, and nothing is posted
    refused = click(bot_url, people, "usage_share", json.dumps({"a": ACME_ID, "v": "summary"}), channel="C0SHARED1")
    assert "Slack Connect" in _all_text(refused)
    assert people.messages["C0SHARED1"] == []


def test_share_to_channel_posts_visible_copy(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    done = click(bot_url, people, "usage_share", json.dumps({"a": ACME_ID, "v": "health"}))
    assert "Shared" in done["text"]
    posted = people.messages["C0GENERAL1"]
    assert len(posted) == 1
    assert check_limits(posted[0]["blocks"]) == []
    text = json.dumps(posted[0]["blocks"], ensure_ascii=False)
    assert "Acme Corp · Health" in text and "shared by <@U0TAM0001>" in text
    assert not any(b["type"] == "actions" for b in posted[0]["blocks"])  # a shared copy has no buttons


def test_share_trends_posts_chart_in_channel(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    click(bot_url, people, "usage_share", json.dumps({"a": ACME_ID, "v": "trends"}))
    people.wait_for("files.completeUploadExternal")
    assert people.calls_to("files.completeUploadExternal")[0].params["channel_id"] == "C0GENERAL1"
    assert "chart of these lines is below" in json.dumps(people.messages["C0GENERAL1"][0]["blocks"])


def test_response_url_failure_is_retried(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    people.fail("response_url", status=500, times=1, retry_after=None)
    post(bot_url + "/slack/events", slash_body("acme corp", response_url=people.response_url("retry")))
    first, second = people.wait_for("response_url", 2)[:2]
    assert first.params == second.params  # the same answer, sent again after the 500
    assert "Product health" in _all_text(second.params)


def test_view_buttons_and_placeholders(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    health = click(bot_url, people, "usage_view:health", json.dumps({"a": GLOBEX_ID}))
    assert "Globex Corporation · Health" in _all_text(health)
    gone = click(bot_url, people, "usage_view:summary", json.dumps({"a": "no-such-account"}))
    assert "no longer in the data" in _all_text(gone)
    forged = click(bot_url, people, "usage_view:health", "not json at all")
    assert "no longer in the data" in _all_text(forged)


def test_relabel_buttons_only_for_tam_or_admin(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url, acme_instances=3, unknown=1)
    for user in ("U0TAM0001", "U0ADMIN01"):
        buttons = _buttons(ask(bot_url, people, "acme corp instances", user=user))
        relabel = {aid: b for aid, b in buttons.items() if aid.startswith("relabel:")}
        assert set(relabel) == {
            "relabel:Production",
            "relabel:Non-Production",
            "relabel:Obsolete",
            "relabel:Geo Secondary Node",
        }
        value = json.loads(relabel["relabel:Production"]["value"])
        assert value["f"] == "Unknown" and value["a"] == ACME_ID and value["n"] == 0 and isinstance(value["i"], int)
    other = ask(bot_url, people, "acme corp instances", user="U0OTHER01")
    assert not any(aid.startswith("relabel:") for aid in _buttons(other))
    assert "Only the account's TAM" in _all_text(other)


def test_account_with_120_instances_fits_slack_limits(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url, acme_instances=120, unknown=60)
    for view in ("", "instances", "versions", "health", "utilization", "trends"):
        answer = ask(bot_url, people, f"acme corp {view}".strip(), user="U0ADMIN01")
        blocks = answer["blocks"]
        assert len(blocks) <= 50
        assert check_limits(blocks) == []
    inst = ask(bot_url, people, "acme corp instances", user="U0ADMIN01")
    assert "more Unknown" in _all_text(inst)


# ------------------------------------------------------------------------------------------ Slack trouble


def test_slack_429_then_success(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    seed(bot_settings.database_url)
    people.fail("users.info", status=429, times=1, retry_after=1)
    answer = ask(bot_url, people, "acme corp")
    assert "Product health" in _all_text(answer)
    assert len(people.calls_to("users.info")) == 2  # retried after Retry-After


def test_failure_inside_is_logged_and_told_politely(
    bot_url: str, people: FakeSlack, bot_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # The database vanishes under the bot (tables dropped): the person gets an apology, not a trace.
    seed(bot_settings.database_url)
    from sqlalchemy import text as sql

    from db.session import get_engine

    with get_engine(bot_settings.database_url).begin() as conn:
        conn.execute(sql("ALTER TABLE accounts RENAME TO accounts_gone"))
    try:
        answer = _all_text(ask(bot_url, people, "acme corp"))
    finally:
        with get_engine(bot_settings.database_url).begin() as conn:
            conn.execute(sql("ALTER TABLE accounts_gone RENAME TO accounts"))
    assert "something went wrong" in answer and "accounts" not in answer.lower().replace("acme", "")
    assert any("/usage failed" in r.getMessage() and "acme corp" in r.getMessage() for r in caplog.records)


def test_forged_or_stale_click_gets_401_and_changes_nothing(
    bot_url: str, people: FakeSlack, bot_settings: Settings
) -> None:
    seed(bot_settings.database_url)
    people.reset_calls()  # the app asked auth.test once at start; nothing since
    body = interaction_body(
        block_action_payload(
            "usage_share", json.dumps({"a": ACME_ID, "v": "summary"}), response_url=people.response_url("forged")
        )
    )
    forged = post(bot_url + "/slack/events", body, secret="not-the-secret")
    stale = post(bot_url + "/slack/events", body, timestamp=int(time.time()) - 6 * 60)
    assert (forged.status, stale.status) == (401, 401)
    time.sleep(0.3)
    assert people.calls == [] and people.messages["C0GENERAL1"] == []


def test_usage_metric_shows_the_card(bot_url: str, people: FakeSlack, bot_settings: Settings) -> None:
    from db.session import session_scope
    from workflows.metrics_import import SAMPLE_PATH, import_definitions

    with session_scope(bot_settings.database_url) as session:
        import_definitions(session, SAMPLE_PATH)
    card = _all_text(ask(bot_url, people, "metric counts.projects"))
    assert "counts.projects" in card and "Count of Projects created" in card
    assert "all time" in card and "Service Ping" in card and "https://metrics.gitlab.com/?q=counts.projects" in card
    words = _all_text(ask(bot_url, people, "metric how many ppl use epcis"))
    assert "Best match" in words and "epic" in words
    nothing = _all_text(ask(bot_url, people, "metric MTTR of incidents"))
    assert "Nothing in the Metrics Dictionary measures" in nothing
