"""The retry pass of data issue reports (run with the outbox's retries, `SlackEdge.retry_data_issues`):
threads that could not be posted, GitLab links not yet in their thread, reporters not yet told."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy.orm import Session

from bot.features.data_quality.blocks import confirmation_text
from bot.features.data_quality.views import dm, post_thread
from db.models import DataIssue
from workflows.data_quality import mark_confirmed, thread_link_text, unconfirmed_reports
from workflows.settings import Settings

# A report younger than this may still be in its submission: the retry pass leaves it alone.
GRACE = timedelta(minutes=2)


def post_unposted(
    session_factory: Callable[[], Session], client: WebClient, settings: Settings, *, min_age: timedelta = GRACE
) -> list[str]:
    """Retry pass (run with the outbox's retries): post threads that could not be posted and confirm
    to reporters not yet told. Reports younger than `min_age` are left to the submission still running."""
    problems: list[str] = []
    cutoff = datetime.now(UTC) - min_age
    with session_factory() as session:
        for issue_id in unconfirmed_reports(session, cutoff):
            ts, permalink = post_thread(session, issue_id, client, settings.product_analytics_channel)
            issue = session.get_one(DataIssue, issue_id)
            if ts is None:
                problems.append(f"data issue {issue_id} ({issue.account_id}): thread not posted yet")
                continue
            if issue.gitlab_status == "filed" and issue.issue_url and not issue.issue_linked and issue.channel_id:
                client.chat_postMessage(
                    channel=issue.channel_id, thread_ts=ts, text=thread_link_text(issue.issue_url, issue.issue_iid)
                )
                issue.issue_linked = True
                session.commit()
            if issue.confirmed:
                continue
            status = None if issue.scope != "upstream" else issue.gitlab_status
            if dm(client, issue.reporter_id, confirmation_text(issue, permalink, status)):
                mark_confirmed(session, issue_id)
    return problems
