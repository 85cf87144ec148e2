"""Submission of the "Report a data issue" modal.

The ack answers validation problems inline (`response_action: errors`); the rest runs after the ack:
store the report (idempotent on the view id: a double submit does nothing twice), post the triage
thread in #cs-product-analytics, file the confidential upstream issue through the outbox (the link
lands in the thread, now or when GitLab is back), then DM the reporter a link to the thread.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session

from bot.app import Deps, deps_of, discard, session_of, user_name_of
from bot.errors import slack_text
from bot.features.data_quality.blocks import (
    CALLBACK_ID,
    confirmation_text,
    failure_text,
    modal_errors,
    pending_reply,
    read_submission,
    thread_blocks,
    thread_text,
)
from db.models import DataIssue
from workflows import outbox
from workflows.data_quality import (
    ReportError,
    enqueue_upstream,
    mark_confirmed,
    record_thread,
    submit_report,
    validate,
)
from workflows.gitlab_client import gitlab_factory

log = logging.getLogger("usagebot.data_quality")


def ack_submission(ack: Ack, view: dict[str, Any]) -> None:
    fields = read_submission(view)
    problems = validate(fields["what"], fields["metric"], fields["scope"])
    if not fields["account_id"]:
        problems.setdefault("what", "This dialog lost track of the account; please open it again from /usage.")
    if problems:
        ack(response_action="errors", errors=modal_errors(problems))
    else:
        ack()


def dm(client: WebClient, user_id: str, text: str) -> bool:
    try:
        client.chat_postMessage(channel=user_id, text=text, unfurl_links=False)
    except SlackApiError:
        log.warning("could not DM %s about their data issue", user_id, exc_info=True)
        return False
    return True


def process_submission(
    session: Session, body: dict[str, Any], view: dict[str, Any], client: WebClient, deps: Deps, user_id: str
) -> None:
    fields = read_submission(view)
    if validate(fields["what"], fields["metric"], fields["scope"]) or not fields["account_id"]:
        return  # answered in the ack
    settings = deps.settings
    try:
        issue, created = submit_report(
            session,
            key=str(view.get("id") or body.get("trigger_id") or ""),
            account_id=fields["account_id"],
            instance_id=fields["instance_id"],
            metric=fields["metric"],
            what=fields["what"],
            scope=fields["scope"],
            reporter_id=user_id,
            reporter_name=user_name_of(body),
        )
    except ReportError as exc:
        dm(client, user_id, slack_text(exc))
        return
    if not created:
        return  # a double submit: the first one does the work
    issue_id = issue.id
    ts, permalink = post_thread(session, issue_id, client, settings.product_analytics_channel)
    status: str | None = None
    if issue.scope == "upstream":
        # Filed even when the thread could not be posted: the link follows once the thread is up.
        key = enqueue_upstream(session, issue, settings.data_quality_project, settings.data_quality_epic)
        outcome = outbox.file_one(deps.sessions, gitlab_factory(settings), client, key)
        status = outcome.status
        thread_channel = session.get_one(DataIssue, issue_id).channel_id
        if outcome.status != "filed" and ts and thread_channel:
            try:
                client.chat_postMessage(channel=thread_channel, thread_ts=ts, text=pending_reply())
            except SlackApiError:
                log.warning("data issue %s: pending note not posted", issue_id, exc_info=True)
    session.expire_all()
    issue = session.get_one(DataIssue, issue_id)
    if ts is None:
        dm(client, user_id, failure_text(issue.account_name))
        return
    if dm(client, user_id, confirmation_text(issue, permalink, status)):
        mark_confirmed(session, issue_id)


def post_thread(
    session: Session, issue_id: int, client: WebClient, channel: str | None
) -> tuple[str | None, str | None]:
    """Post the report's triage thread (once) and record it; (ts, permalink), or (None, None) on failure."""
    issue = session.get_one(DataIssue, issue_id)
    if issue.thread_ts:
        return issue.thread_ts, issue.permalink
    if not channel:
        log.error("PRODUCT_ANALYTICS_CHANNEL is not set: data issue %s stored but not posted", issue_id)
        return None, None
    try:
        posted = client.chat_postMessage(
            channel=channel, text=thread_text(issue), blocks=thread_blocks(issue), unfurl_links=False
        )
    except SlackApiError as exc:
        log.error("data issue %s: thread not posted: %s", issue_id, exc.response.get("error"))
        return None, None
    ts = posted["ts"]
    channel = posted.get("channel") or channel
    try:
        permalink = client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")
    except SlackApiError:
        permalink = None
    record_thread(session, issue_id, channel, ts, permalink)
    return ts, permalink


def register(app: App) -> None:
    @app.view(CALLBACK_ID)
    def on_submit(
        ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
    ) -> None:
        # Bolt answers Slack as soon as ack() is called (process_before_response is off); the work
        # continues in the listener's thread. A modal submission acks with its own response (errors or
        # nothing), so it is a plain listener, not `acked_then` (docs/architecture.md, "Listener shape").
        ack_submission(ack, view)
        try:
            process_submission(session_of(context), body, view, client, deps_of(context), context.user_id or "")
        except Exception:
            discard(context)
            log.exception("data issue submission failed: user=%s", context.user_id)
            dm(
                client,
                context.user_id or "",
                ":warning: Sorry, something went wrong while reporting your data issue. It has been logged.",
            )
