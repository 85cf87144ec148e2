"""Alert DMs over Slack: the sender used after a sync, and the Mute / Unmute buttons on an alert.

Only the account's TAM (the person the alert went to) and CS Operations admins may mute an account.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import deps_of, make_web_client, user_name_of
from bot.features.alerts.blocks import MUTE_ACTION, UNMUTE_ACTION, alert_blocks, alert_text, with_mute_state
from bot.guard import PERSON
from db.models import AlertRecord
from db.queries.health import month_has_data
from db.session import session_scope
from workflows.alerts import (
    Alert,
    SendResult,
    account_tam_email,
    compute_alerts,
    mute_account,
    resolve_months,
    send_alerts,
    unmute_account,
)
from workflows.policy import REFUSE_ACT, may_act_on_account
from workflows.settings import Settings
from workflows.wording import plural

log = logging.getLogger("usagebot.alerts")
# Slack message metadata event type of alert DMs: tags each DM with its claim, to recognise it after a crash.
ALERT_EVENT = "usagebot_alerts"


class SlackAlertSender:
    """`workflows.alerts.AlertSender` over slack_sdk's WebClient (retries configured where it is built)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def user_for_email(self, email: str) -> str | None:
        try:
            resp = self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        user = resp.get("user") or {}
        if user.get("deleted"):
            return None
        return user.get("id")

    def send(self, user_id: str, records: Sequence[AlertRecord], claim_token: str) -> tuple[str, str]:
        resp = self.client.chat_postMessage(
            channel=user_id,
            text=alert_text(records),
            blocks=alert_blocks(records),
            metadata={"event_type": ALERT_EVENT, "event_payload": {"claim": claim_token}},
        )
        return resp["channel"], resp["ts"]

    def find_sent(self, user_id: str, claim_token: str) -> tuple[str, str] | None:
        channel = self.client.conversations_open(users=user_id)["channel"]["id"]
        history = self.client.conversations_history(channel=channel, limit=100, include_all_metadata=True)
        for msg in history.get("messages") or []:
            meta = msg.get("metadata") or {}
            if meta.get("event_type") == ALERT_EVENT and (meta.get("event_payload") or {}).get("claim") == claim_token:
                return channel, msg["ts"]
        return None


@dataclass
class AlertRun:
    month: date | None
    previous: date | None
    alerts: list[Alert]
    result: SendResult | None  # None on a dry run
    previous_has_data: bool = True  # False: nothing was compared (the month before has no data)


def run_alerts(
    settings: Settings,
    month: date | None = None,
    previous: date | None = None,
    *,
    dry_run: bool = False,
    client: WebClient | None = None,
) -> AlertRun:
    """Compute the alerts for `month` (default: the data's as-of month) and, unless dry, send them."""
    with session_scope(settings.database_url) as session:
        months = resolve_months(session, month, previous)
        if months is None:
            return AlertRun(None, None, [], None)
        new, old = months
        if not month_has_data(session, old):
            return AlertRun(new, old, [], None, previous_has_data=False)
        alerts = compute_alerts(session, new, old, settings.scoring_rules)
        if dry_run:
            return AlertRun(new, old, alerts, None)
        settings.require("slack_bot_token")
        client = client or make_web_client(settings)
        result = send_alerts(session, alerts, SlackAlertSender(client))
    if result.tams_not_found and settings.product_analytics_channel:
        # A TAM Slack does not know is reported, not silently skipped (as the digest does).
        try:
            client.chat_postMessage(
                channel=settings.product_analytics_channel,
                text="Health alerts: no Slack user for these TAM emails: "
                + ", ".join(result.tams_not_found)
                + "; their alerts were not delivered.",
            )
        except SlackApiError:
            log.warning("alerts: could not report unknown TAMs to the channel", exc_info=True)
    return AlertRun(new, old, alerts, result)


# --------------------------------------------------------------------------------------- mute buttons


def _user_email(client: WebClient, user_id: str) -> str | None:
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        return None
    return ((user.get("profile") or {}).get("email") or "").strip().lower() or None


def _toggle(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, mute: bool) -> None:
    ack()
    deps = deps_of(context)
    user_id = context.user_id or ""
    user_name = user_name_of(body)
    account_id = str(body["actions"][0].get("value") or "")[:64]
    channel = context.channel_id or ""
    with deps.sessions() as session:
        found = account_tam_email(session, account_id)
        if found is None:
            client.chat_postEphemeral(channel=channel, user=user_id, text="That account no longer exists.")
            return
        _name, tam_email = found
        person = context.get(PERSON)  # admitted by the guard middleware
        email = person.email if person is not None else _user_email(client, user_id)
        if not may_act_on_account(user_id, email, tam_email, deps.settings.admin_ids):
            client.chat_postEphemeral(channel=channel, user=user_id, text=REFUSE_ACT)
            return
        if mute:
            mute_account(session, account_id, user_id, user_name)
        else:
            unmute_account(session, account_id)
    message = body.get("message") or {}
    if message.get("ts") and channel:
        blocks = with_mute_state(message.get("blocks") or [], account_id, mute, f"<@{user_id}>")
        client.chat_update(
            channel=channel, ts=message["ts"], text=message.get("text") or "Health alerts", blocks=blocks
        )


def register(app: App) -> None:
    @app.action(MUTE_ACTION)
    def on_mute(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        _toggle(ack, body, client, context, True)

    @app.action(UNMUTE_ACTION)
    def on_unmute(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
        _toggle(ack, body, client, context, False)


def alerts_after_sync(settings: Settings, as_of_month: date | None) -> str:
    """Run the alerts after a successful sync; one line for the sync's output. Never raises: a Slack
    problem must not turn a good sync into a failure (undelivered alerts stay pending for the next run)."""
    if as_of_month is None:
        return "Alerts: no usage rows, nothing to compare."
    if not settings.slack_bot_token:
        return "Alerts: skipped (SLACK_BOT_TOKEN is not set)."
    try:
        run = run_alerts(settings, as_of_month)
    except Exception as exc:  # logged with details; the sync itself succeeded
        log.exception("alerts after sync failed")
        return f"Alerts: not sent ({type(exc).__name__}); run `usagebot alerts` to retry."
    r = run.result
    if r is None:
        return "Alerts: nothing to compare (no data for the month before)."
    line = f"Alerts: {r.recorded:,} new, {plural(r.messages, 'message')} to TAMs"
    if r.tams_not_found:
        line += f"; {plural(len(r.tams_not_found), 'TAM')} not found in Slack"
    if r.failed:
        line += f"; {plural(len(r.failed), 'DM')} failed and stay pending (`usagebot alerts` retries)"
    return line + "."
