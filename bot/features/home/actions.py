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

from slack_bolt import App
from slack_sdk import WebClient

from bot.blocks.ids import decode_value
from bot.features.home.blocks import ACTION_OPEN, ACTION_PAGE_NEXT, ACTION_PAGE_PREV, ACTION_VIEW, OPEN_VIEWS
from bot.features.home.events import publish_home
from bot.listener import UsageContext, acked_then
from workflows.portfolio import SCOPES

log = logging.getLogger("usagebot.home")

MAX_ACCOUNT_ID = 64
STALE_BUTTON = "Sorry, that button is out of date. Open the Home tab again to refresh it."


def on_view(ctx: UsageContext) -> None:
    scope = str(ctx.action.get("value") or "")
    # publish_home falls back to the person's first allowed view when they may not see this one.
    publish_home(ctx.client, ctx.session, ctx.settings, ctx.user_id, scope if scope in SCOPES else None, 1)


def on_page(ctx: UsageContext) -> None:
    try:
        value = decode_value(ctx.action.get("value"))
        scope, page = str(value.get("scope") or ""), int(value.get("page") or 1)
    except (ValueError, TypeError, AttributeError):
        scope, page = "", 1
    publish_home(ctx.client, ctx.session, ctx.settings, ctx.user_id, scope if scope in SCOPES else None, page)


def _dm(client: WebClient, user_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    client.chat_postMessage(channel=channel, text=text[:3000], blocks=blocks or None, unfurl_links=False)


def on_open(ctx: UsageContext) -> None:
    from bot.features.usage.command import Viewer, account_answer, upload_chart

    settings = ctx.settings
    user_id = ctx.user_id
    action = ctx.action
    view = str(action.get("action_id") or "").partition(":")[2]
    account_id = str(action.get("value") or "").strip()[:MAX_ACCOUNT_ID]
    if view not in dict(OPEN_VIEWS) or not account_id:
        _dm(ctx.client, user_id, STALE_BUTTON)
        return
    viewer = Viewer(person=ctx.person, admin_ids=settings.admin_ids)  # admitted by the guard middleware
    answer = account_answer(ctx.session, settings, account_id, view, viewer)
    _dm(ctx.client, user_id, answer.text, answer.blocks)
    if answer.chart is not None:
        upload_chart(ctx.client, answer.chart, answer.text, user_id=user_id)


def register(app: App) -> None:
    app.action(re.compile(rf"^{ACTION_VIEW}:"))(**acked_then("home view", on_view))
    app.action(re.compile(rf"^({ACTION_PAGE_PREV}|{ACTION_PAGE_NEXT})$"))(**acked_then("home page", on_page))
    app.action(re.compile(rf"^{ACTION_OPEN}:"))(**acked_then("home open", on_open))
