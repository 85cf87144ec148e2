"""Filing: the request's GitLab issue (title and description) written exactly once through the outbox
(`workflows/outbox.py`): stored before GitLab is called, found by its marker after a crash, retried
until filed. What happens once it is filed is in `workflows/metric_request/notify.py`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gitlab
from sqlalchemy.exc import IntegrityError

from db.models.requests import COUNT_KINDS, MetricRequest
from workflows import outbox
from workflows.escaping import gitlab_markdown, gitlab_templates
from workflows.metric_request.form import SessionFactory, get_request, summary
from workflows.settings import Settings

KIND = "metric_request"
LABEL = "analytics instrumentation"
FOLLOW_UP = "metric_request.notify"

_TEMPLATES = gitlab_templates()


class AlreadyDecided(Exception):
    """The request was answered by an existing metric or joined to another one: nothing to file."""


def title_for(request: MetricRequest) -> str:
    return f"Metric request: {gitlab_markdown(summary(request.what))}"


def _cell(text: str) -> str:
    """Text safe inside one Markdown table cell."""
    return " ".join(text.split()).replace("|", "\\|")


def render_description(request: MetricRequest, pm: str | None) -> str:
    requester = request.requester_name or request.requester_id
    others = [r.user_name or r.user_id for r in request.requesters if r.user_id != request.requester_id]
    return _TEMPLATES.get_template("metric_request.md.j2").render(
        what=request.what,
        what_cell=_cell(summary(request.what, 200)),
        why=request.why,
        requester=requester,
        account=request.account,
        product_group=request.product_group,
        count_kind=COUNT_KINDS.get(request.count_kind or "", request.count_kind),
        rejected=[
            {
                "key_path": c.get("key_path") or "?",
                "status": c.get("status") or "unknown",
                "time_frame": c.get("time_frame") or "",
                "description": _cell(summary(c.get("description") or "", 160)),
            }
            for c in request.candidates or []
        ],
        pm=(pm or "").lstrip("@") or None,
        others=", ".join(others),
    )


def filing_key(request: MetricRequest) -> str:
    return f"metric-request:{request.key}"


def file_request(
    session_factory: SessionFactory,
    settings: Settings,
    request_id: int,
    gitlab_client_factory: Callable[[], gitlab.Gitlab],
    slack_client: Any,
) -> outbox.FilingOutcome:
    """File the request's issue exactly once: stored in the outbox first, then filed (or left pending)."""
    with session_factory() as s:
        request = get_request(s, request_id)
        if request.status in ("answered", "joined"):
            # The person chose an existing metric or request in another click; nothing to file.
            raise AlreadyDecided(request.status)
        key = filing_key(request)
        if request.filing_key is None:
            outbox.enqueue_filing(
                s,
                kind=KIND,
                idempotency_key=key,
                project=settings.metric_request_project,
                title=title_for(request),
                description=render_description(request, settings.product_analytics_pm),
                labels=[LABEL],
                on_filed=(FOLLOW_UP, {"request_id": request.id, "channel": settings.product_analytics_channel}),
            )
            request.filing_key = key
            request.status = "pending"
            try:
                s.commit()  # stored BEFORE GitLab is called
            except IntegrityError:  # a concurrent click stored it first; its row is the one
                s.rollback()
    return outbox.file_one(session_factory, gitlab_client_factory, slack_client, key)
