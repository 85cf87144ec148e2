"""Relabel buttons over HTTP: digest DM -> signed block_actions -> database and message updated."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fakes.signing import block_action_payload, interaction_body, post, slash_body
from fakes.slack import FakeSlack
from sqlalchemy import func, select
from support.digest_data import portfolio

from bot.blocks.ids import decode_value, encode_value
from bot.blocks.limits import check_limits
from bot.features.digest.delivery import run_and_report
from db.models import Instance, LabelChange
from db.session import session_scope
from workflows.relabel import relabel
from workflows.settings import Settings

AVERY, BLAKE, ADMIN = "U0AVERY01", "U0BLAKE01", "U0ADMIN01"


@pytest.fixture
def dm(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> dict[str, Any]:
    """Avery's digest DM, delivered; returns ids and the message."""
    fake_slack.add_user(AVERY, "avery", "Avery@Example.com")
    fake_slack.add_user(BLAKE, "blake", "blake@example.com")
    fake_slack.add_user(ADMIN, "casey", "casey@example.com")  # admins are members of the workspace too
    ids = portfolio(db_url)
    run_and_report(bot_settings, month="2026-11", pace_seconds=0)
    channel = fake_slack.dm_channel_id(AVERY)
    (message,) = fake_slack.messages[channel]
    return {"ids": ids, "channel": channel, "message": message, "iid": ids["gitlab.acme.com"]}


def _button(message: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    for block in message["blocks"]:
        if block.get("block_id") == block_id:
            elements = [block["accessory"]] if "accessory" in block else block.get("elements", [])
            for el in elements:
                if el.get("action_id") == action_id:
                    return el
    raise AssertionError(f"no {action_id} in block {block_id}")


def _click(
    bot_url: str,
    fake: FakeSlack,
    dm: dict[str, Any],
    action_id: str,
    *,
    user: str = AVERY,
    message: dict[str, Any] | None = None,
    response_key: str = "r1",
    value: str | None = None,
    block_id: str | None = None,
) -> None:
    message = message if message is not None else current_message(fake, dm)
    block_id = block_id or f"relabel:{dm['iid']}"
    if value is None:
        value = _button(message, block_id, action_id)["value"]
    payload = block_action_payload(
        action_id,
        value,
        user_id=user,
        channel_id=dm["channel"],
        message={"ts": message["ts"], "text": message["text"], "blocks": message["blocks"]},
        response_url=fake.response_url(response_key),
        block_id=block_id,
    )
    reply = post(fake_url(bot_url), interaction_body(payload))
    assert reply.status == 200, reply.body


def fake_url(bot_url: str) -> str:
    return bot_url + "/slack/events"


def current_message(fake: FakeSlack, dm: dict[str, Any]) -> dict[str, Any]:
    return fake.messages[dm["channel"]][0]


def _instance(db_url: str, iid: int) -> Instance:
    with session_scope(db_url) as s:
        inst = s.get(Instance, iid)
        assert inst is not None
        s.expunge(inst)
        return inst


def _changes(db_url: str, iid: int) -> list[LabelChange]:
    with session_scope(db_url) as s:
        rows = list(s.scalars(select(LabelChange).where(LabelChange.instance_id == iid).order_by(LabelChange.id)))
        for r in rows:
            s.expunge(r)
        return rows


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_tam_click_relabels_updates_message_and_undo(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str
) -> None:
    iid, original = dm["iid"], dm["message"]
    _click(bot_url, fake_slack, dm, "relabel:Production")
    fake_slack.wait_for("chat.update")

    inst = _instance(db_url, iid)
    assert (inst.label, inst.label_source, inst.label_set_by, inst.label_version) == ("Production", "person", AVERY, 1)
    (change,) = _changes(db_url, iid)
    assert (change.from_label, change.to_label, change.changed_by, change.origin) == (
        "Unknown",
        "Production",
        AVERY,
        "digest",
    )
    assert change.message_ref == f"{dm['channel']}:{original['ts']}"

    msg = current_message(fake_slack, dm)
    block = next(b for b in msg["blocks"] if b.get("block_id") == f"relabel:{iid}")
    assert "labelled *Production* by <@U0AVERY01> just now" in block["text"]["text"]
    assert block["accessory"]["action_id"] == "relabel_undo"
    # Other instances keep their buttons.
    other = dm["ids"]["git.beta.io"]
    assert any(b.get("block_id") == f"relabel:{other}" and b["type"] == "actions" for b in msg["blocks"])

    # Undo: back to Unknown (the export's label, so the sync owns it again), recorded, buttons back.
    _click(bot_url, fake_slack, dm, "relabel_undo")
    fake_slack.wait_for("chat.update", 2)
    inst = _instance(db_url, iid)
    assert (inst.label, inst.label_source, inst.label_version) == ("Unknown", "export", 2)
    changes = _changes(db_url, iid)
    assert [(c.from_label, c.to_label, c.origin) for c in changes] == [
        ("Unknown", "Production", "digest"),
        ("Production", "Unknown", "undo"),
    ]
    block = next(b for b in current_message(fake_slack, dm)["blocks"] if b.get("block_id") == f"relabel:{iid}")
    assert block["type"] == "actions" and decode_value(block["elements"][0]["value"])["n"] == 2


def test_non_tam_is_refused_and_nothing_changes(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str
) -> None:
    _click(bot_url, fake_slack, dm, "relabel:Obsolete", user=BLAKE)
    fake_slack.wait_for("response_url")
    (response,) = fake_slack.responses()
    assert response["response_type"] == "ephemeral" and "only the account's TAM" in response["text"]
    assert response.get("replace_original") in (False, "false", None)
    inst = _instance(db_url, dm["iid"])
    assert (inst.label, inst.label_version) == ("Unknown", 0)
    assert _changes(db_url, dm["iid"]) == []
    assert fake_slack.calls_to("chat.update") == []


def test_admin_may_relabel_any_instance(bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str) -> None:
    _click(bot_url, fake_slack, dm, "relabel:Geo Secondary Node", user=ADMIN)
    fake_slack.wait_for("chat.update")
    inst = _instance(db_url, dm["iid"])
    assert (inst.label, inst.label_set_by) == ("Geo Secondary Node", ADMIN)
    assert [c.changed_by for c in _changes(db_url, dm["iid"])] == [ADMIN]


def test_stale_click_explains_then_apply_anyway(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str
) -> None:
    iid, original = dm["iid"], dm["message"]
    # An admin relabels it elsewhere (e.g. from /usage) after the digest went out.
    with session_scope(db_url) as s:
        done = relabel(
            s,
            instance_id=iid,
            to_label="Obsolete",
            expected_version=0,
            user_id=ADMIN,
            user_name="ops",
            user_email=None,
            admin_ids={ADMIN},
            origin="usage",
        )
    assert done.status == "applied"

    _click(bot_url, fake_slack, dm, "relabel:Production", message=original)
    fake_slack.wait_for("response_url")
    inst = _instance(db_url, iid)
    assert (inst.label, inst.label_version) == ("Obsolete", 1)  # nothing applied
    prompt = fake_slack.responses()[-1]
    text = str(prompt["blocks"])
    assert "<@U0ADMIN01>" in text and "*Obsolete*" in text and "Apply anyway" in text and "Keep Obsolete" in text
    # The DM now shows the truth instead of stale buttons.
    fake_slack.wait_for("chat.update")
    block = next(b for b in current_message(fake_slack, dm)["blocks"] if b.get("block_id") == f"relabel:{iid}")
    assert "is now *Obsolete*" in block["text"]["text"]

    apply = next(e for e in prompt["blocks"][1]["elements"] if e["action_id"] == "relabel_apply")
    payload = block_action_payload(
        "relabel_apply",
        apply["value"],
        user_id=AVERY,
        channel_id=dm["channel"],
        message=None,  # an ephemeral prompt
        response_url=fake_slack.response_url("r2"),
        block_id=f"relabel_stale:{iid}",
    )
    assert post(fake_url(bot_url), interaction_body(payload)).status == 200
    _wait(lambda: _instance(db_url, iid).label == "Production")
    assert [(c.from_label, c.to_label) for c in _changes(db_url, iid)] == [
        ("Unknown", "Obsolete"),
        ("Obsolete", "Production"),
    ]
    fake_slack.wait_for("chat.update", 2)  # the original DM shows the new label too
    _wait(
        lambda: (
            "labelled *Production*"
            in next(b for b in current_message(fake_slack, dm)["blocks"] if b.get("block_id") == f"relabel:{iid}")[
                "text"
            ]["text"]
        )
    )


def test_double_click_records_one_change(bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str) -> None:
    original = dm["message"]
    _click(bot_url, fake_slack, dm, "relabel:Production", message=original)
    _click(bot_url, fake_slack, dm, "relabel:Production", message=original)
    fake_slack.wait_for("chat.update", 2)
    assert len(_changes(db_url, dm["iid"])) == 1
    inst = _instance(db_url, dm["iid"])
    assert (inst.label, inst.label_version) == ("Production", 1)
    block = next(b for b in current_message(fake_slack, dm)["blocks"] if b.get("block_id") == f"relabel:{dm['iid']}")
    assert "labelled *Production*" in block["text"]["text"] and block["accessory"]["action_id"] == "relabel_undo"


@pytest.mark.parametrize("mixed", [False, True], ids=["same-label", "mixed-labels"])
def test_twenty_concurrent_clicks_leave_one_consistent_state(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str, mixed: bool
) -> None:
    original = dm["message"]
    labels = ["Production", "Non-Production", "Obsolete", "Geo Secondary Node"]
    barrier = threading.Barrier(20)

    def click(i: int) -> None:
        label = labels[i % 4] if mixed else "Production"
        barrier.wait()
        _click(bot_url, fake_slack, dm, f"relabel:{label}", message=original, user=ADMIN if i % 2 else AVERY)

    threads = [threading.Thread(target=click, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    _wait(lambda: len(fake_slack.calls_to("chat.update")) + len(fake_slack.calls_to("response_url")) >= 20, 30)
    changes = _changes(db_url, dm["iid"])
    assert len(changes) == 1  # exactly one click won; the history says so
    inst = _instance(db_url, dm["iid"])
    assert (inst.label, inst.label_version, inst.label_set_by) == (changes[0].to_label, 1, changes[0].changed_by)
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(LabelChange)) == 1


def test_usage_digest_shows_callers_digest(bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any]) -> None:
    reply = post(fake_url(bot_url), slash_body("digest", user_id=AVERY, response_url=fake_slack.response_url("d1")))
    assert reply.status == 200
    fake_slack.wait_for("response_url")
    _wait(lambda: any("gitlab.acme.com" in str(r.get("blocks")) for r in fake_slack.responses()))
    shown = [r for r in fake_slack.responses() if r.get("blocks")]
    assert all(r["response_type"] == "ephemeral" for r in shown)
    # Blake has nothing Unknown: a friendly answer.
    post(fake_url(bot_url), slash_body("digest", user_id=BLAKE, response_url=fake_slack.response_url("d2")))
    _wait(lambda: any("No Unknown instances" in str(r.get("text")) for r in fake_slack.responses()))


def test_relabel_from_usage_instances_answer_counts_at_once(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str
) -> None:
    iid = dm["iid"]
    body = slash_body("Acme Corp instances", user_id=AVERY, response_url=fake_slack.response_url("u1"))
    assert post(fake_url(bot_url), body).status == 200
    _wait(lambda: any(f"relabel:{iid}" in str(r.get("blocks")) for r in fake_slack.responses()))
    answer = next(r for r in fake_slack.responses() if f"relabel:{iid}" in str(r.get("blocks")))
    button = _button({"blocks": answer["blocks"]}, f"relabel:{iid}", "relabel:Non-Production")
    assert decode_value(button["value"])["o"] == "usage"

    # Clicked in the ephemeral answer: Slack sends no message blocks back.
    payload = block_action_payload(
        "relabel:Non-Production",
        button["value"],
        user_id=AVERY,
        channel_id="C0GENERAL1",
        message=None,
        response_url=fake_slack.response_url("u2"),
        block_id=f"relabel:{iid}",
    )
    assert post(fake_url(bot_url), interaction_body(payload)).status == 200
    _wait(lambda: any("labelled *Non-Production*" in str(r.get("blocks")) for r in fake_slack.responses()))
    shown = next(r for r in fake_slack.responses() if "labelled *Non-Production*" in str(r.get("blocks")))
    assert shown["replace_original"] in (True, "true")  # the buttons are replaced, not left in place
    assert check_limits(shown["blocks"]) == []
    inst = _instance(db_url, iid)
    assert (inst.label, inst.label_source) == ("Non-Production", "person")
    assert [c.origin for c in _changes(db_url, iid)] == ["usage"]

    # The next answer already counts the new label: no relabel buttons for that instance any more.
    before = len(fake_slack.responses())
    body = slash_body("Acme Corp instances", user_id=AVERY, response_url=fake_slack.response_url("u3"))
    assert post(fake_url(bot_url), body).status == 200
    _wait(lambda: len(fake_slack.responses()) > before + 0 and "gitlab.acme.com" in str(fake_slack.responses()[-1]))
    latest = fake_slack.responses()[-1]
    assert f"relabel:{iid}" not in str(latest.get("blocks")) and "Non-Production" in str(latest.get("blocks"))


def test_undo_in_ephemeral_confirmation_and_keep(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str
) -> None:
    iid = dm["iid"]
    value = _button(dm["message"], f"relabel:{iid}", "relabel:Obsolete")["value"]

    def ephemeral_click(action_id: str, value: str, key: str, block_id: str) -> None:
        payload = block_action_payload(
            action_id,
            value,
            user_id=AVERY,
            channel_id="C0GENERAL1",
            message=None,
            response_url=fake_slack.response_url(key),
            block_id=block_id,
        )
        assert post(fake_url(bot_url), interaction_body(payload)).status == 200

    ephemeral_click("relabel:Obsolete", value, "e1", f"relabel:{iid}")
    _wait(lambda: any("labelled *Obsolete*" in str(r.get("blocks")) for r in fake_slack.responses()))
    confirmation = next(r for r in fake_slack.responses() if "labelled *Obsolete*" in str(r.get("blocks")))
    # The ephemeral answer is replaced in place: the instances view rebuilt, the confirmation on top.
    assert confirmation["replace_original"] in (True, "true")
    assert "Instances" in str(confirmation["blocks"][0])
    undo = next(b for b in confirmation["blocks"] if "labelled *Obsolete*" in str(b))["accessory"]
    ephemeral_click("relabel_undo", undo["value"], "e2", f"relabel:{iid}")
    _wait(lambda: _instance(db_url, iid).label == "Unknown")
    _wait(lambda: any("Undone" in str(r.get("blocks")) for r in fake_slack.responses()))
    undone = next(r for r in fake_slack.responses() if "Undone" in str(r.get("blocks")))
    assert undone["replace_original"] in (True, "true")
    assert [(c.from_label, c.to_label) for c in _changes(db_url, iid)] == [
        ("Unknown", "Obsolete"),
        ("Obsolete", "Unknown"),
    ]

    ephemeral_click("relabel_keep", encode_value(i=iid), "e3", f"relabel_stale:{iid}")
    _wait(lambda: any("Kept as it is" in str(r.get("text")) for r in fake_slack.responses()))
    assert len(_changes(db_url, iid)) == 2


def test_forged_or_old_button_values_are_refused_politely(
    bot_url: str, fake_slack: FakeSlack, dm: dict[str, Any], db_url: str
) -> None:
    _click(bot_url, fake_slack, dm, "relabel:Production", value="not json")
    _click(bot_url, fake_slack, dm, "relabel:Nonsense", value=encode_value(i=dm["iid"], n=0), response_key="r2")
    _wait(lambda: len(fake_slack.responses()) >= 2)
    texts = " ".join(str(r.get("text")) for r in fake_slack.responses())
    assert "no longer in the data" in texts and "is not a label" in texts
    assert _changes(db_url, dm["iid"]) == []
