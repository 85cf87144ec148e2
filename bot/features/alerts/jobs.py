"""Alert DMs after a sync: the Slack sender `workflows.alerts.send_alerts` uses, the run (CLI and after a
sync), and the one line a sync prints about it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import make_web_client
from bot.features.alerts.blocks import alert_blocks, alert_text
from db.models import AlertRecord
from db.queries.health import month_has_data
from db.session import session_scope
from workflows.alerts import (
    Alert,
    SendResult,
    compute_alerts,
    resolve_months,
    send_alerts,
)
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
