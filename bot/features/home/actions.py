"""App Home buttons: switch view (mine / team / all), Previous / Next page, and open an account's
Summary, Health or Instances answer.

A Home tab has no response URL and no channel, so account answers arrive as a DM from the bot (only the
person sees it, like `/usage`'s ephemeral answers), built by `/usage`'s own `account_answer`, so they are
the same answers with the same buttons. Customer data goes to nobody else.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.app import deps_of
from bot.blocks.ids import decode_value
from bot.features.home.blocks import ACTION_OPEN, ACTION_PAGE_NEXT, ACTION_PAGE_PREV, ACTION_VIEW, OPEN_VIEWS
from bot.features.home.events import publish_home
from bot.guard import PERSON
from db.session import session_scope
from workflows.portfolio import SCOPES
from workflows.settings import Settings

log = logging.getLogger("usagebot.home")

MAX_ACCOUNT_ID = 64
STALE_BUTTON = "Sorry, that button is out of date. Open the Home tab again to refresh it."


def _action(body: dict[str, Any]) -> dict[str, Any]:
    return (body.get("actions") or [{}])[0]


def on_view(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    scope = str(_action(body).get("value") or "")
    # publish_home falls back to the person's first allowed view when they may not see this one.
    publish_home(client, deps_of(context).settings, (context.user_id or ""), scope if scope in SCOPES else None, 1)


def on_page(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    try:
        value = decode_value(_action(body).get("value"))
        scope, page = str(value.get("scope") or ""), int(value.get("page") or 1)
    except (ValueError, TypeError, AttributeError):
        scope, page = "", 1
    publish_home(client, deps_of(context).settings, (context.user_id or ""), scope if scope in SCOPES else None, page)


def _dm(client: WebClient, user_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    client.chat_postMessage(channel=channel, text=text[:3000], blocks=blocks or None, unfurl_links=False)


def on_open(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    ack()
    from bot.features.usage.command import Viewer, account_answer, upload_chart

    settings: Settings = deps_of(context).settings
    user_id = (context.user_id or "")
    action = _action(body)
    view = str(action.get("action_id") or "").partition(":")[2]
    account_id = str(action.get("value") or "").strip()[:MAX_ACCOUNT_ID]
    if view not in dict(OPEN_VIEWS) or not account_id:
        _dm(client, user_id, STALE_BUTTON)
        return
    viewer = Viewer(person=context.get(PERSON), admin_ids=settings.admin_ids)  # admitted by the guard middleware
    with session_scope(settings.database_url) as session:
        answer = account_answer(session, settings, account_id, view, viewer)
    _dm(client, user_id, answer.text, answer.blocks)
    if answer.chart is not None:
        upload_chart(client, answer.chart, answer.text, user_id=user_id)


def register(app: App) -> None:
    app.action(re.compile(rf"^{ACTION_VIEW}:"))(on_view)
    app.action(re.compile(rf"^({ACTION_PAGE_PREV}|{ACTION_PAGE_NEXT})$"))(on_page)
    app.action(re.compile(rf"^{ACTION_OPEN}:"))(on_open)
