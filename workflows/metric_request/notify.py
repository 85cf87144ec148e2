"""After filing: the outbox follow-up that records the issue on the request and tells people (DMs to
everyone who asked, a note in #cs-product-analytics), and the retry step for "+1" notes not yet
written. Loaded by the outbox through `FOLLOW_UP_MODULES`."""

from __future__ import annotations

import logging
from collections.abc import Callable

import gitlab
from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models.requests import MetricRequest
from workflows import outbox
from workflows.escaping import mrkdwn
from workflows.gitlab_client import describe_error
from workflows.metric_request.duplicates import join_note, write_missing_notes
from workflows.metric_request.filing import FOLLOW_UP
from workflows.metric_request.form import SessionFactory, summary
from workflows.ports import SlackEdge
from workflows.settings import Settings

log = logging.getLogger(__name__)


@outbox.follow_up(FOLLOW_UP)
def _notify(ctx: outbox.FollowUpContext) -> None:
    """Once filed: record the issue on the request, DM everyone who asked, post a channel note, "+1" notes.

    Each step is recorded in the filing's payload as it succeeds, so a retry after a failure (Slack
    down halfway) repeats none of the messages already sent.
    """
    s, filing = ctx.session, ctx.filing
    request = s.get(MetricRequest, int(ctx.payload["request_id"]))
    if request is None:
        return
    request.status = "filed"
    request.issue_iid = filing.issue_iid
    request.issue_url = filing.issue_url
    s.commit()  # the request knows its issue even if telling people fails below (retried later)
    done = set(ctx.payload.get("done") or [])

    def mark(step: str) -> None:
        done.add(step)
        filing.on_filed_payload = {**ctx.payload, "done": sorted(done)}
        s.commit()

    if ctx.gitlab is not None:
        _notes_for_joiners(s, request, ctx.gitlab, filing.project)
    if ctx.slack is None:
        raise RuntimeError("Slack is not configured: the requester cannot be told the link yet")
    link = f"<{filing.issue_url}|#{filing.issue_iid}>"
    for person in request.requesters:
        step = f"dm:{person.user_id}"
        if step in done:
            continue
        whose = "Your metric request" if person.user_id == request.requester_id else "The metric request you joined"
        text = f":white_check_mark: {whose} was filed in GitLab: {link} — _{mrkdwn(summary(request.what))}_"
        ctx.slack.chat_postMessage(channel=person.user_id, text=text, unfurl_links=False)
        mark(step)
    channel = ctx.payload.get("channel")
    if channel and "channel" not in done:
        who = mrkdwn(request.requester_name) if request.requester_name else f"<@{request.requester_id}>"
        account = f" (account: {mrkdwn(request.account)})" if request.account else ""
        ctx.slack.chat_postMessage(
            channel=channel,
            text=f":bar_chart: New metric request from {who}{account}: {mrkdwn(summary(request.what))} → {link}",
            unfurl_links=False,
        )
        mark("channel")


def _notes_for_joiners(s: Session, request: MetricRequest, gl: gitlab.Gitlab, project: str) -> None:
    """ "+1" notes for people who joined while the request was pending (best effort; retried by the pass)."""
    joiners = [r for r in request.requesters if r.user_id != request.requester_id and not r.noted_on_issue]
    if not joiners or request.issue_iid is None:
        return
    try:
        issue = gl.projects.get(project, lazy=True).issues.get(request.issue_iid)
        for person in joiners:
            source = s.scalars(
                select(MetricRequest).where(
                    MetricRequest.duplicate_of_id == request.id, MetricRequest.requester_id == person.user_id
                )
            ).first()
            issue.notes.create({"body": join_note(person.user_name or person.user_id, source or request)})
            person.noted_on_issue = True
            s.commit()
    except Exception as exc:  # `write_missing_notes` in the next retry pass picks up the rest
        log.info("+1 notes on %s #%s deferred: %s", project, request.issue_iid, describe_error(exc, project))


def _retry_notes(
    session_factory: SessionFactory,
    gitlab_client_factory: Callable[[], gitlab.Gitlab],
    settings: Settings,
    _edge: SlackEdge | None,
) -> list[str]:
    return write_missing_notes(session_factory, gitlab_client_factory, settings.metric_request_project)


outbox.register_retry_step("metric_request.notes", _retry_notes)
