"""Buttons on `/usage` answers: switch view, pick one of several accounts, share to the channel, page a
list. Action ids: `bot/blocks/ids.py` (Report a data issue and Request a metric are answered by their
own features, `bot/features/data_quality` and `bot/features/metric_request`).

Every click is acked at once; the work runs after the ack (lazy listener) and answers through the
click's response_url. Button values are only hints: the account is looked up again and the person is
guarded on every click by the guard middleware (a value can be forged; a guest can click a forwarded message).

Relabel buttons (`relabel:<Label>`) are NOT handled here: see `bot/blocks/ids.py` for their value.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot import guard
from bot.blocks import ids
from bot.features.usage.blocks import VIEWS, message
from bot.features.usage.command import (
    PORTFOLIO_WORDS,
    account_answer,
    show_account,
    show_portfolio,
    upload_chart,
    viewer_of,
)
from bot.listener import UsageContext, acked_then
from db.queries.accounts import account_ref

log = logging.getLogger("usagebot.actions.usage")

def _target(ctx: UsageContext) -> tuple[Any, str] | None:
    """(account, view) named by the clicked button, after guarding; None when answered already."""
    act = ctx.action
    value = ids.decode_value(act.get("value"))
    view = str(value.get("v") or "summary")
    aid = str(act.get("action_id") or "")
    if aid.startswith(ids.VIEW_ACTION_PREFIX):
        view = aid.removeprefix(ids.VIEW_ACTION_PREFIX)
    if view not in VIEWS and view != "report":
        view = "summary"
    account = account_ref(ctx.session, str(value.get("a") or ""))
    if account is None:
        ctx.show(message("That account is no longer in the data. Try `/usage <name>` again."))
        return None
    return account, view


def open_view(ctx: UsageContext) -> None:
    """Utilization / Health / Instances / Trends / Summary buttons, and a picked account: same answer as typing it.

    A button of a `/usage mine` list (k=1) keeps the list and answers below it."""
    target = _target(ctx)
    if target is not None:
        keep = bool(ids.decode_value(ctx.action.get("value")).get("k"))
        show_account(ctx, target[0], target[1], replace_original=not keep)


def list_page(ctx: UsageContext) -> None:
    """Previous / Next of a `/usage mine|team` list: the page again, for whoever clicks, with their rights."""
    value = ids.decode_value(ctx.action.get("value"))
    scope_word = str(value.get("s") or "mine")
    if scope_word not in PORTFOLIO_WORDS:
        scope_word = "mine"
    try:
        page = max(1, int(value.get("p") or 1))
    except (TypeError, ValueError):
        page = 1
    show_portfolio(ctx, scope_word, str(value.get("f") or "").split()[:50], page, replace=True)


def share(ctx: UsageContext) -> None:
    """A visible copy of the answer in the channel (never into Slack Connect; the channel is re-checked)."""
    target = _target(ctx)
    if target is None:
        return
    account, view = target
    channel = ctx.channel_id
    reason = guard.refusal_for_channel(ctx.client, channel, posting=True)
    if reason is not None or channel is None:  # no channel is refused above (an unverified one)
        ctx.show(message(reason or guard.REFUSE_UNVERIFIED_CHANNEL))
        return
    answer = account_answer(ctx.session, ctx.deps.settings, account.id, view, viewer_of(ctx), shared_by=ctx.user_id)
    try:
        ctx.client.chat_postMessage(channel=channel, text=answer.text, blocks=answer.blocks, unfurl_links=False)
    except SlackApiError as exc:
        error = exc.response.get("error")
        log.info("share failed in %s: %s", channel, error)
        hint = "invite me to the channel first" if error in ("not_in_channel", "channel_not_found") else "try again"
        ctx.show(message(f":warning: I couldn't post in this channel ({error}): {hint}."))
        return
    if answer.chart is not None:
        upload_chart(ctx.client, answer.chart, account.name, channel=channel)
    ctx.send(text=f"Shared with <#{channel}>.")


def register(app: App) -> None:
    app.action(re.compile(ids.VIEW_ACTION_RE))(**acked_then("view", open_view))
    app.action(re.compile(ids.PICK_ACTION_RE))(**acked_then("pick", open_view))
    app.action(ids.SHARE_ACTION)(**acked_then("share", share))
    app.action(re.compile(ids.LIST_PAGE_ACTION_RE))(**acked_then("list_page", list_page))
