"""The Mute / Unmute buttons on an alert DM.

Only the account's TAM (the person the alert went to) and CS Operations admins may mute an account.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.features.alerts.blocks import MUTE_ACTION, UNMUTE_ACTION, with_mute_state
from bot.listener import UsageContext, acked_then
from workflows.alerts import account_tam_email, mute_account, unmute_account
from workflows.policy import REFUSE_ACT, may_act_on_account

log = logging.getLogger("usagebot.alerts")


def _user_email(client: WebClient, user_id: str) -> str | None:
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        return None
    return ((user.get("profile") or {}).get("email") or "").strip().lower() or None


def _toggle(ctx: UsageContext, mute: bool) -> None:
    client = ctx.client
    user_id = ctx.user_id
    account_id = str(ctx.action.get("value") or "")[:64]
    channel = ctx.channel_id or ""
    found = account_tam_email(ctx.session, account_id)
    if found is None:
        client.chat_postEphemeral(channel=channel, user=user_id, text="That account no longer exists.")
        return
    _name, tam_email = found
    person = ctx.person  # admitted by the guard middleware
    email = person.email if person is not None else _user_email(client, user_id)
    if not may_act_on_account(user_id, email, tam_email, ctx.settings.admin_ids):
        client.chat_postEphemeral(channel=channel, user=user_id, text=REFUSE_ACT)
        return
    if mute:
        mute_account(ctx.session, account_id, user_id, ctx.user_name)
    else:
        unmute_account(ctx.session, account_id)
    message = ctx.body.get("message") or {}
    if message.get("ts") and channel:
        blocks = with_mute_state(message.get("blocks") or [], account_id, mute, f"<@{user_id}>")
        client.chat_update(
            channel=channel, ts=message["ts"], text=message.get("text") or "Health alerts", blocks=blocks
        )


def on_mute(ctx: UsageContext) -> None:
    _toggle(ctx, True)


def on_unmute(ctx: UsageContext) -> None:
    _toggle(ctx, False)


def register(app: App) -> None:
    app.action(MUTE_ACTION)(**acked_then("alert mute", on_mute))
    app.action(UNMUTE_ACTION)(**acked_then("alert unmute", on_unmute))
