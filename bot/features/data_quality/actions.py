"""Opening the "Report a data issue" modal: from the button on usage answers (`usage_report_issue`)
and from `/usage ACCOUNT report` (routed by `bot.features.usage.command.ACCOUNT_SUBCOMMANDS`).

The modal opens within Slack's 3-second trigger window: one small query, then views.open.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.features.usage.command import SlashContext
    from db.queries.accounts import AccountRef

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.app import Deps, deps_of
from bot.blocks.ids import REPORT_ISSUE_ACTION, decode_value
from bot.errors import slack_text
from bot.features.data_quality.blocks import report_modal
from workflows.data_quality import ReportError, account_instances, load_context

log = logging.getLogger("usagebot.data_quality")
# The metric a view is about, pre-filled when the person opened the dialog from that view.
VIEW_METRIC = {"utilization": "billable_user_count"}


def open_report_modal(
    client: WebClient,
    deps: Deps,
    trigger_id: str,
    account_id: str,
    instance_id: int | None = None,
    metric: str | None = None,
    view: str | None = None,
) -> str | None:
    """Open the modal pre-filled for the account (and instance, metric); returns a problem to tell, or None."""
    metric = metric or VIEW_METRIC.get(view or "")
    with deps.sessions() as session:
        try:
            ctx = load_context(session, account_id, instance_id, metric)
        except ReportError as exc:
            return slack_text(exc)
        instances = account_instances(session, account_id)
    try:
        client.views_open(trigger_id=trigger_id, view=report_modal(ctx, instances, view))
    except SlackApiError as exc:
        log.warning("data issue modal did not open: %s", exc.response.get("error"))
        return ":warning: The dialog did not open (Slack said it took too long). Please click again."
    return None


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def on_report_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext, respond: Any) -> None:
    ack()
    deps = deps_of(context)
    # The person was admitted by the guard middleware; the account in the value is looked up again.
    fields = decode_value((body.get("actions") or [{}])[0].get("value"))
    if not fields.get("a"):
        refusal: str | None = "That button is out of date; run `/usage ACCOUNT report` instead."
    else:
        refusal = open_report_modal(
            client,
            deps,
            body["trigger_id"],
            str(fields["a"])[:64],
            _int(fields.get("i")),
            fields.get("m"),
            fields.get("v"),
        )
    if refusal is not None:
        respond(text=refusal, response_type="ephemeral", replace_original=False)


def report_subcommand(ctx: SlashContext, account: AccountRef) -> None:
    """`/usage ACCOUNT report` (the `/usage` handler has already guarded the person and the channel)."""
    from bot.features.usage.blocks import message

    problem = open_report_modal(ctx.client, ctx.deps, ctx.body["trigger_id"], account.id, view="report")
    if problem is not None:
        ctx.show(message(problem))


def register(app: App) -> None:
    app.action(REPORT_ISSUE_ACTION)(on_report_button)
