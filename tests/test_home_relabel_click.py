"""End to end over HTTP: Home tab → Instances (DM) → relabel click (bot.features.relabel) → Home refreshed."""

from __future__ import annotations

from typing import Any

from fakes.signing import block_action_payload, interaction_body, post
from fakes.slack import FakeSlack
from support.home_data import add_account, as_of
from support.home_slack import TAM, TAM_EMAIL, account_ids, account_sections, click, open_home

from db.models import Instance, LabelChange
from db.session import session_scope
from workflows.settings import Settings


def _relabel_button(message: dict[str, Any], label: str) -> tuple[str, dict[str, Any]]:
    for block in message.get("blocks") or []:
        for el in block.get("elements") or []:
            if el.get("action_id") == f"relabel:{label}":
                return block["block_id"], el
    raise AssertionError(f"no relabel:{label} button in {message.get('blocks')}")


def test_relabel_from_the_home_tab_refreshes_it(bot_url: str, bot_settings: Settings, fake_slack: FakeSlack) -> None:
    fake_slack.add_user(TAM, "avery.tam", TAM_EMAIL)
    with session_scope(bot_settings.database_url) as s:
        as_of(s)
        ids = add_account(s, "0016ACME", "Acme Corp", TAM_EMAIL, "green", label="Unknown")
        add_account(s, "0016INIT", "Initech", TAM_EMAIL, "red")
    home = open_home(bot_url, fake_slack, TAM, 1)
    assert "product health ⚪ No data" in account_sections(home)[1]

    # Instances, from the Home tab: a DM with the account's instances and, for its TAM, relabel buttons.
    click(bot_url, fake_slack, TAM, "home_open:instances", "0016ACME", 1)
    fake_slack.wait_for("chat.postMessage")
    dm = fake_slack.dm_messages(TAM)[-1]
    block_id, button = _relabel_button(dm, "Production")

    payload = block_action_payload(
        button["action_id"],
        button["value"],
        user_id=TAM,
        channel_id=fake_slack.dm_channel_id(TAM),
        message=dm,
        block_id=block_id,
        container={"type": "message", "message_ts": dm["ts"], "channel_id": fake_slack.dm_channel_id(TAM)},
    )
    assert post(bot_url + "/slack/events", interaction_body(payload)).status == 200
    fake_slack.wait_for("views.publish", 2)  # the refresh after the relabel

    with session_scope(bot_settings.database_url) as s:
        inst = s.get(Instance, ids[0])
        assert inst is not None and inst.label == "Production"
        assert s.query(LabelChange).count() == 1
    after = fake_slack.published[TAM]
    assert account_ids(after) == ["0016INIT", "0016ACME"]
    acme = account_sections(after)[1]
    assert "product health 🟢 Green (88.0)" in acme and "Unknown" not in acme
