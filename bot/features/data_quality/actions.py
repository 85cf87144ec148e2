"""Opening the "Report a data issue" modal: from the button on usage answers (`usage_report_issue`)
and from `/usage ACCOUNT report` (routed by `bot.features.usage.command.ACCOUNT_SUBCOMMANDS`).

The modal opens within Slack's 3-second trigger window: one small query, then views.open.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.blocks.ids import REPORT_ISSUE_ACTION, decode_value
from bot.errors import slack_text
from bot.features.data_quality.blocks import report_modal
from bot.listener import UsageContext, acked_then
from db.queries.accounts import AccountRef
from workflows.data_quality import ReportError, account_instances, load_context

log = logging.getLogger("usagebot.data_quality")
# The metric a view is about, pre-filled when the person opened the dialog from that view.
VIEW_METRIC = {"utilization": "billable_user_count"}


def open_report_modal(
    ctx: UsageContext,
    account_id: str,
    instance_id: int | None = None,
    metric: str | None = None,
    view: str | None = None,
) -> str | None:
    """Open the modal pre-filled for the account (and instance, metric); returns a problem to tell, or None."""
    metric = metric or VIEW_METRIC.get(view or "")
    try:
        about = load_context(ctx.session, account_id, instance_id, metric)
    except ReportError as exc:
        return slack_text(exc)
    instances = account_instances(ctx.session, account_id)
    try:
        ctx.client.views_open(trigger_id=ctx.trigger_id, view=report_modal(about, instances, view))
    except SlackApiError as exc:
        log.warning("data issue modal did not open: %s", exc.response.get("error"))
        return ":warning: The dialog did not open (Slack said it took too long). Please click again."
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def on_report_button(ctx: UsageContext) -> None:
    # The person was admitted by the guard middleware; the account in the value is looked up again.
    fields = decode_value(ctx.action.get("value"))
    if not fields.get("a"):
        refusal: str | None = "That button is out of date; run `/usage ACCOUNT report` instead."
    else:
        refusal = open_report_modal(
            ctx,
            str(fields["a"])[:64],
            _int(fields.get("i")),
            fields.get("m"),
            fields.get("v"),
        )
    if refusal is not None:
        ctx.send(text=refusal)


def report_subcommand(ctx: UsageContext, account: AccountRef) -> None:
    """`/usage ACCOUNT report` (the `/usage` handler has already guarded the person and the channel)."""
    problem = open_report_modal(ctx, account.id, view="report")
    if problem is not None:
        ctx.say(problem)


def register(app: App) -> None:
    app.action(REPORT_ISSUE_ACTION)(**acked_then("report issue", on_report_button))
