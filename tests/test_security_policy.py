"""One authorization policy (workflows/policy.py) enforced by the guard middleware on every surface.

Each test is named after the weakness it closes (issue: hostile input can't act, ping, spoof or leak).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fakes.signing import block_action_payload, interaction_body, post, slash_body
from fakes.slack import FakeSlack
from fakes.wsgi import serve
from support.bot_usage_data import ACME_ID, TAM_EMAIL, seed
from support.request_helpers import (  # noqa: F401 (fixtures)
    TAM,
    app_url,
    events,
    fake_gitlab,
    open_modal,
    req_settings,
    request_id_of,
    shortcut_body,
    submission_body,
    view_click_body,
    wait_view,
)
from test_relabel_clicks import ADMIN, AVERY, BLAKE, _click, _instance, dm, fake_url  # noqa: F401 (fixture)

from bot.app import make_web_client
from bot.guard import clear_caches
from db.models import MetricRequest
from db.queries.accounts import clear_cache
from db.session import session_scope
from workflows import policy
from workflows.relabel import relabel
from workflows.settings import Settings

GUEST, OUTSIDER = "U0GUEST01", "U0EXTERN1"


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    clear_caches()
    clear_cache()


@pytest.fixture
def people(fake_slack: FakeSlack) -> FakeSlack:
    fake_slack.add_user("U0TAM0001", "avery", email=TAM_EMAIL)
    fake_slack.add_user(GUEST, "gus", email="gus@partner.example", is_restricted=True)
    fake_slack.add_user(OUTSIDER, "ext", email="ext@other.example", team_id="T0OTHER99")
    return fake_slack


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _response(fake: FakeSlack, key: str) -> dict[str, Any]:
    _wait(lambda: any(c.path.endswith("/" + key) for c in fake.calls_to("response_url")))
    return next(c.params for c in fake.calls_to("response_url") if c.path.endswith("/" + key))


def _text(payload: dict[str, Any]) -> str:
    return json.dumps(payload.get("blocks") or [], ensure_ascii=False) + str(payload.get("text") or "")


# ------------------------------------------------------------------------------------------ the policy itself


def test_policy_refuses_guests_bots_outsiders_and_the_unknown() -> None:
    ws = policy.Workspace("T1")
    member = policy.Person("U1", "T1", "a", "a@x", is_guest=False, is_bot=False, deleted=False)
    assert policy.refusal_to_see(member, ws) is None
    assert policy.refusal_to_see(member, None) == policy.REFUSE_UNKNOWN  # fail closed: who are we?
    assert policy.refusal_to_see(None, ws) == policy.REFUSE_UNKNOWN
    guest = policy.Person("U2", "T1", "g", None, is_guest=True, is_bot=False, deleted=False)
    assert policy.refusal_to_see(guest, ws) == policy.REFUSE_GUEST
    outsider = policy.Person("U3", "T9", "o", None, is_guest=False, is_bot=False, deleted=False)
    assert policy.refusal_to_see(outsider, ws) == policy.REFUSE_EXTERNAL
    grid = policy.Person("U4", "T2", "e", None, is_guest=False, is_bot=False, deleted=False, enterprise_id="E1")
    assert policy.refusal_to_see(grid, policy.Workspace("T1", "E1")) is None
    assert policy.refusal_to_see(grid, policy.Workspace("T1", "E2")) == policy.REFUSE_EXTERNAL


def test_refusals_say_what_to_do_and_never_name_an_account() -> None:
    for name in dir(policy):
        if name.startswith("REFUSE_"):
            text = getattr(policy, name)
            assert "Sorry" in text or "won't" in text or "only" in text
            assert "Acme" not in text


def test_no_handler_calls_the_user_guard_by_hand() -> None:
    """The guard is middleware: listener code never asks "may this person see data?" itself. The one exception
    is the Home tab publisher, which jobs also call (a refresh after a sync) where no request middleware runs."""
    root = Path(__file__).parent.parent / "bot"
    jobs_too = {"bot/features/home/events.py"}
    files = [p for p in root.rglob("*.py") if p.name != "guard.py"]
    assert len(files) > 20
    callers = {
        str(p.relative_to(root.parent)) for p in files if "refusal_for_user(" in p.read_text()
    }
    assert callers <= jobs_too


# ------------------------------------------------------------------------------------------ the app's own workspace


def test_other_workspace_user_is_refused_even_when_the_payload_claims_their_own_team(
    bot_url: str, people: FakeSlack, bot_settings: Settings
) -> None:
    """Issue item 12: the check compared the user with the payload's own team id, so a payload carrying the
    outsider's team id passed."""
    seed(bot_settings.database_url)
    body = slash_body("acme corp", user_id=OUTSIDER, team_id="T0OTHER99", response_url=people.response_url("x"))
    assert post(bot_url + "/slack/events", body).status == 200
    answer = _text(_response(people, "x"))
    assert "members of this workspace" in answer and "Acme" not in answer
    payload = block_action_payload(
        "usage_view:health", json.dumps({"a": ACME_ID}), user_id=OUTSIDER, team_id="T0OTHER99",
        response_url=people.response_url("y"),
    )
    assert post(bot_url + "/slack/events", interaction_body(payload)).status == 200
    assert "Product health" not in _text(_response(people, "y"))


def test_the_workspace_is_learned_once_at_start_and_enterprise_grid_members_are_admitted(
    people: FakeSlack, bot_settings: Settings
) -> None:
    from bot.server import make_wsgi_app

    seed(bot_settings.database_url)
    people.enterprise_id = "E0GRID001"
    people.add_user("U0GRID001", "gina", email="gina@example.com", team_id="T0SISTER1", enterprise_id="E0GRID001")
    with serve(make_wsgi_app(bot_settings)) as url:
        for n, user in enumerate(("U0GRID001", OUTSIDER, "U0TAM0001")):
            body = slash_body("acme corp", user_id=user, response_url=people.response_url(f"g{n}"))
            assert post(url + "/slack/events", body).status == 200
        assert "Product health" in _text(_response(people, "g0"))
        assert "members of this workspace" in _text(_response(people, "g1"))
        assert "Product health" in _text(_response(people, "g2"))
    assert len(people.calls_to("auth.test")) == 1


# ------------------------------------------------------------------------------------------ channels


def test_share_rechecks_the_channel_live_when_posting_not_from_a_cache(
    bot_url: str, people: FakeSlack, bot_settings: Settings
) -> None:
    """Issue item 4: Share re-checked the channel from a 300 s cache, so an answer could be shared into a
    channel that had just become Slack Connect."""
    seed(bot_settings.database_url)
    people.add_channel("C0TURNS01", name="acme-team")
    body = slash_body("acme corp", channel_id="C0TURNS01", response_url=people.response_url("first"))
    assert post(bot_url + "/slack/events", body).status == 200
    assert "Product health" in _text(_response(people, "first"))  # the channel was internal (and cached)
    people.channels["C0TURNS01"]["is_ext_shared"] = True  # …and becomes Slack Connect
    payload = block_action_payload(
        "usage_share", json.dumps({"a": ACME_ID, "v": "summary"}), channel_id="C0TURNS01",
        response_url=people.response_url("share"),
    )
    assert post(bot_url + "/slack/events", interaction_body(payload)).status == 200
    assert "Slack Connect" in _text(_response(people, "share"))
    assert people.messages["C0TURNS01"] == []


# ------------------------------------------------------------------------------------------ relabel


def test_refused_relabel_click_does_not_name_the_account(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any]  # noqa: F811
) -> None:
    """Issue item 11: a refused relabel click named the account to the person refused."""
    _click(bot_url, fake_slack, dm, "relabel:Production", user=BLAKE)
    answer = fake_slack.wait_for("response_url")[-1].params
    assert "TAM or a CS Operations admin" in answer["text"]
    assert "Acme" not in _text(answer)


def test_relabel_apply_cannot_be_aimed_at_another_users_dm(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str, bot_settings: Settings  # noqa: F811
) -> None:
    """Issue item 7: a TAM could forge the message reference of `relabel_apply` to make the bot chat.update
    another user's DM."""
    iid = dm["iid"]
    with session_scope(db_url) as s:
        relabel(s, instance_id=iid, to_label="Obsolete", expected_version=0, user_id=ADMIN, user_name="ops",
                user_email=None, admin_ids={ADMIN}, origin="usage")
    _click(bot_url, fake_slack, dm, "relabel:Production", message=dm["message"])
    _wait(lambda: any("Apply anyway" in str(r.get("blocks")) for r in fake_slack.responses()))
    prompt = next(r for r in fake_slack.responses() if "Apply anyway" in str(r.get("blocks")))
    apply = next(e for e in prompt["blocks"][1]["elements"] if e["action_id"] == "relabel_apply")
    # Blake's DM holds a bot message with a block of the same id: the forged target.
    victim = make_web_client(bot_settings).chat_postMessage(
        channel=BLAKE, text="Blake's own message",
        blocks=[{"type": "section", "block_id": f"relabel:{iid}", "text": {"type": "mrkdwn", "text": "mine"}}],
    )
    value = json.loads(apply["value"])
    value["m"] = f"{victim['channel']}:{victim['ts']}|relabel:{iid}"
    fake_slack.reset_calls()
    payload = block_action_payload(
        "relabel_apply", json.dumps(value), user_id=AVERY, channel_id=dm["channel"], message=None,
        response_url=fake_slack.response_url("r9"), block_id=f"relabel_stale:{iid}",
    )
    assert post(fake_url(bot_url), interaction_body(payload)).status == 200
    _wait(lambda: _instance(db_url, iid).label == "Production")  # Avery's own click still works
    time.sleep(0.3)
    assert [c for c in fake_slack.calls_to("chat.update") if c.params.get("channel") == victim["channel"]] == []
    assert fake_slack.messages[victim["channel"]][-1]["text"] == "Blake's own message"


# ------------------------------------------------------------------------------------------ metric requests


def _started_request(app_url: str, fake: FakeSlack) -> tuple[str, int]:  # noqa: F811
    view_id, _ = open_modal(app_url, fake)
    reply = post(events(app_url), submission_body(view_id, "Merge requests reverted per project each month"))
    assert reply.status == 200
    wait_view(fake, view_id, "This is it")
    return view_id, request_id_of(fake.views[view_id])


def test_guest_cannot_mark_someone_elses_metric_request_answered(
    app_url: str, fake_slack: FakeSlack, req_settings: Settings  # noqa: F811
) -> None:
    """Issue item 7: a guest could press `mr_pick` with another person's request id, so it was marked answered
    and nothing could be filed."""
    _, request_id = _started_request(app_url, fake_slack)
    fake_slack.add_user(GUEST, "gus", is_restricted=True)
    fake_slack.add_user("U0TAM0002", "blake", "blake@example.com")
    for intruder in (GUEST, "U0TAM0002"):
        for action in ("mr_pick", "mr_none", "mr_file_new"):
            body = view_click_body("V0INTRUDER", action, {"r": request_id, "k": "counts.x"}, user_id=intruder)
            assert post(events(app_url), body).status == 200
    time.sleep(0.5)
    with session_scope(req_settings.database_url) as s:
        assert s.get_one(MetricRequest, request_id).status == "draft"  # still the requester's to continue


def test_metric_request_shortcut_modal_and_options_refuse_guests_and_other_workspaces(
    app_url: str, fake_slack: FakeSlack, req_settings: Settings  # noqa: F811
) -> None:
    """Issue item 7: metric-request buttons and modals had no guest / other-workspace guard at all."""
    fake_slack.add_user(OUTSIDER, "ext", team_id="T0OTHER99")
    assert post(events(app_url), shortcut_body(OUTSIDER)).status == 200
    opened = fake_slack.wait_for("views.open")[-1].params["view"]
    opened = json.loads(opened) if isinstance(opened, str) else opened
    assert "members of this workspace" in json.dumps(opened) and opened.get("callback_id") != "metric_request"
    reply = post(events(app_url), submission_body("V0OUT", "Merge requests per project", user_id=OUTSIDER))
    assert reply.status == 200 and "members of this workspace" in reply.body
    with session_scope(req_settings.database_url) as s:
        assert s.query(MetricRequest).count() == 0
    options = {
        "type": "block_suggestion", "user": {"id": OUTSIDER, "team_id": "T0OTHER99"}, "team": {"id": "T0OTHER99"},
        "action_id": "mr_product_area", "block_id": "mr_area", "value": "", "view": {"id": "V0OUT", "type": "modal"},
    }
    reply = post(events(app_url), interaction_body(options))
    assert reply.status == 200 and reply.json() == {"options": []}


# ------------------------------------------------------------------------------------------ the one codec


def test_one_codec_for_every_button_value_and_modal_metadata() -> None:
    """Values and metadata are written by one codec (bot/blocks/ids.py); no feature writes its own JSON."""
    from bot.blocks.ids import decode_value, encode_metadata, encode_value

    root = Path(__file__).parent.parent / "bot" / "features"
    own = [str(p) for p in root.rglob("*.py") if "json.dumps(" in p.read_text() or "json.loads(" in p.read_text()]
    assert own == []
    assert decode_value(encode_value(a="0016", v="health", k=None)) == {"a": "0016", "v": "health"}
    assert decode_value(encode_metadata(c="C1", r=7)) == {"c": "C1", "r": 7}
    for forged in (None, "", "not json", "[1, 2]", '"a"', "{", "1e999"):
        assert decode_value(forged) == {}
    with pytest.raises(ValueError):
        encode_value(a="x" * 2001)
