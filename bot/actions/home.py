"""App Home buttons: switch view (mine / team / all), Previous / Next page, and open an account's
Summary, Health or Instances answer.

A Home tab has no response URL and no channel, so account answers arrive as a DM from the bot (only the
person sees it, like `/usage`'s ephemeral answers). Customer data goes to nobody else.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.app import deps_of
from bot.events.app_home import publish_home, viewer_for
from bot.render.home import ACTION_OPEN, ACTION_PAGE_NEXT, ACTION_PAGE_PREV, ACTION_VIEW, OPEN_VIEWS
from bot.settings import Settings
from db.session import session_scope
from workflows.portfolio import SCOPES
from workflows.report import AccountNotFound, build_account_report
from workflows.report_text import format_report

log = logging.getLogger("usagebot.home")

MAX_ACCOUNT_ID = 64


def _action(body: dict[str, Any]) -> dict[str, Any]:
    return (body.get("actions") or [{}])[0]


def _user(body: dict[str, Any]) -> str:
    return (body.get("user") or {}).get("id") or ""


def on_view(ack: Ack, body: dict[str, Any], client: WebClient, context: Any) -> None:
    ack()
    scope = str(_action(body).get("value") or "")
    # publish_home falls back to the person's first allowed view when they may not see this one.
    publish_home(client, deps_of(context).settings, _user(body), scope if scope in SCOPES else None, 1)


def on_page(ack: Ack, body: dict[str, Any], client: WebClient, context: Any) -> None:
    ack()
    try:
        value = json.loads(_action(body).get("value") or "{}")
        scope, page = str(value.get("scope") or ""), int(value.get("page") or 1)
    except (ValueError, TypeError, AttributeError):
        scope, page = "", 1
    publish_home(client, deps_of(context).settings, _user(body), scope if scope in SCOPES else None, page)


def _dm(client: WebClient, user_id: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
    channel = client.conversations_open(users=user_id)["channel"]["id"]
    client.chat_postMessage(channel=channel, text=text[:3000], blocks=blocks or None, unfurl_links=False)


def on_open(ack: Ack, body: dict[str, Any], client: WebClient, context: Any) -> None:
    ack()
    settings: Settings = deps_of(context).settings
    user_id = _user(body)
    action = _action(body)
    view = str(action.get("action_id") or "").partition(":")[2]
    account_id = str(action.get("value") or "").strip()[:MAX_ACCOUNT_ID]
    viewer, refused = viewer_for(client, settings, user_id)
    if refused or viewer is None:
        _dm(client, user_id, "Sorry, customer usage data is only available to members of this workspace.")
        return
    if view not in dict(OPEN_VIEWS) or not account_id:
        _dm(client, user_id, "Sorry, that button is out of date. Open the Home tab again to refresh it.")
        return
    with session_scope(settings.database_url) as session:
        text, blocks = account_answer(session, account_id, view, settings)
    _dm(client, user_id, text, blocks)


def account_answer(
    session: Session, account_id: str, view: str, settings: Settings
) -> tuple[str, list[dict[str, Any]]]:
    """The same answer `/usage ACCOUNT <view>` gives, as (fallback text, blocks)."""
    try:
        report = build_account_report(session, account_id, rules=settings.scoring_rules)
    except AccountNotFound:
        return "That account is no longer in the data. Open the Home tab again to refresh it.", []
    text = format_report(report)
    title = f"{report.account.name}: {dict(OPEN_VIEWS)[view]}"
    return title, text_blocks(title, text)


def text_blocks(title: str, text: str, limit: int = 2900, max_blocks: int = 45) -> list[dict[str, Any]]:
    """A long text as message blocks within Slack's limits (sections of < 3,000 chars, < 50 blocks)."""
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    chunk: list[str] = []
    size = 0
    for line in text.splitlines():
        line = line[:limit]
        if size + len(line) + 1 > limit and chunk:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "```" + "\n".join(chunk) + "```"}})
            chunk, size = [], 0
        chunk.append(line)
        size += len(line) + 1
    if chunk:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "```" + "\n".join(chunk) + "```"}})
    if len(blocks) > max_blocks:
        blocks = [
            *blocks[: max_blocks - 1],
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "… cut short: use `/usage` for the rest."}]},
        ]
    return blocks


def register(app: App) -> None:
    app.action(re.compile(rf"^{ACTION_VIEW}:"))(on_view)
    app.action(re.compile(rf"^({ACTION_PAGE_PREV}|{ACTION_PAGE_NEXT})$"))(on_page)
    app.action(re.compile(rf"^{ACTION_OPEN}:"))(on_open)
