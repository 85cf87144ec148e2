"""Helpers for App Home tests over HTTP: open the Home tab, click its buttons, read what was published."""

from __future__ import annotations

from typing import Any

from fakes.signing import block_action_payload, event_body, interaction_body, post
from fakes.slack import FakeSlack

TAM = "U0TAM0001"
TAM_EMAIL = "avery.tam@example.com"
ADMIN = "U0ADMIN01"


def open_home(bot_url: str, fake: FakeSlack, user: str, expected_publishes: int) -> dict[str, Any]:
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME01", "tab": "home", "event_ts": "1.2"}
    reply = post(bot_url + "/slack/events", event_body(event), content_type="application/json")
    assert reply.status == 200
    fake.wait_for("views.publish", expected_publishes)
    return fake.published[user]


def click(bot_url: str, fake: FakeSlack, user: str, action_id: str, value: str, expected_publishes: int) -> None:
    payload = block_action_payload(
        action_id, value, user_id=user, container={"type": "view", "view_id": f"VHOME{user}"}
    )
    payload["view"] = fake.published.get(user)
    reply = post(bot_url + "/slack/events", interaction_body(payload))
    assert reply.status == 200
    fake.wait_for("views.publish", expected_publishes)


def sections(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]


def account_sections(view: dict[str, Any]) -> list[str]:
    return [b["text"]["text"] for b in view["blocks"] if b.get("block_id", "").startswith("home_acct:")]


def account_ids(view: dict[str, Any]) -> list[str]:
    return [b["block_id"].split(":", 1)[1] for b in view["blocks"] if b.get("block_id", "").startswith("home_acct:")]
