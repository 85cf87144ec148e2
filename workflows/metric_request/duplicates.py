"""Duplicate search ("is someone already asking for this?") and "Add me to it": joining an earlier
open request locally and with a "+1" note on its GitLab issue."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import gitlab
from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models.requests import MetricRequest, MetricRequestRequester
from workflows.escaping import gitlab_markdown
from workflows.gitlab_client import GitLabNotConfigured, describe_error
from workflows.metric_request.filing import LABEL
from workflows.metric_request.form import RequestNotFound, SessionFactory, get_request, normalize, summary

log = logging.getLogger(__name__)

# Two requests are "the same" at this rapidfuzz token-set score (0–100) over normalized text.
DUPLICATE_SCORE = 80
DUPLICATES_SHOWN = 3


@dataclass(frozen=True)
class Duplicate:
    """An open request that looks like this one: local (`request_id`) or only in GitLab (`issue_iid`)."""

    title: str
    score: float
    request_id: int | None = None
    issue_iid: int | None = None
    issue_url: str | None = None
    requesters: int = 1

    @property
    def ref(self) -> str:
        """What the "Add me to it" button carries."""
        return f"local:{self.request_id}" if self.request_id is not None else f"gitlab:{self.issue_iid}"


@dataclass(frozen=True)
class DuplicateCheck:
    duplicates: list[Duplicate]
    gitlab_problem: str | None = None  # GitLab could not be searched (local matches are still shown)


def _score(a: str, b: str) -> float:
    return float(fuzz.token_set_ratio(a, b))


def find_duplicates(
    session: Session, request_id: int, project: str, gitlab_client_factory: Callable[[], gitlab.Gitlab] | None
) -> DuplicateCheck:
    """Open requests (filed or pending, by anyone) that look the same, best first."""
    request = get_request(session, request_id)
    found: list[Duplicate] = []
    known_iids: set[int] = set()
    others = session.scalars(
        select(MetricRequest).where(MetricRequest.status.in_(("pending", "filed")), MetricRequest.id != request.id)
    )
    for other in others:
        if other.issue_iid is not None:
            known_iids.add(other.issue_iid)
        score = _score(request.normalized, other.normalized)
        if score >= DUPLICATE_SCORE:
            found.append(
                Duplicate(
                    title=summary(other.what),
                    score=score,
                    request_id=other.id,
                    issue_iid=other.issue_iid,
                    issue_url=other.issue_url,
                    requesters=len(other.requesters),
                )
            )
    problem = None
    if gitlab_client_factory is not None:
        try:
            gl = gitlab_client_factory()
            issues = gl.projects.get(project, lazy=True).issues.list(
                state="opened", labels=[LABEL], order_by="updated_at", per_page=100, get_all=False
            )
            for issue in issues:
                if issue.iid in known_iids:
                    continue
                title = str(issue.title).removeprefix("Metric request: ")
                text = normalize(f"{title} {_objective(issue.description or '')}")
                score = max(_score(request.normalized, normalize(title)), _score(request.normalized, text))
                if score >= DUPLICATE_SCORE:
                    found.append(Duplicate(title=title, score=score, issue_iid=issue.iid, issue_url=issue.web_url))
        except Exception as exc:  # duplicates are a courtesy: a GitLab outage must not block the request
            problem = describe_error(exc, project)
            log.info("duplicate search in GitLab skipped: %s", problem)
    found.sort(key=lambda d: -d.score)
    return DuplicateCheck(found[:DUPLICATES_SHOWN], problem)


def _objective(description: str) -> str:
    """The Objective section of an issue description (the request itself), if it has one."""
    m = re.search(r"## Objective\s*(.*?)(?:\n## |\Z)", description, flags=re.S)
    return (m.group(1) if m else description)[:2000]


# ----------------------------------------------------------------------------------- "Add me to it"
@dataclass(frozen=True)
class JoinResult:
    issue_url: str | None
    title: str
    note_problem: str | None = None  # the GitLab note could not be written (the local record is kept)


def join(
    session_factory: SessionFactory,
    request_id: int,
    ref: str,
    gitlab_client_factory: Callable[[], gitlab.Gitlab] | None,
    project: str,
) -> JoinResult:
    """Add this request's requester to an earlier open request (locally and as a GitLab note)."""
    with session_factory() as s:
        request = get_request(s, request_id)
        user_id, user_name = request.requester_id, request.requester_name
        kind, _, ident = ref.partition(":")
        target: MetricRequest | None = None
        issue_iid: int | None = None
        issue_url: str | None = None
        title = summary(request.what)
        if kind == "local":
            target = get_request(s, int(ident))
            title, issue_iid, issue_url = summary(target.what), target.issue_iid, target.issue_url
            if not any(r.user_id == user_id for r in target.requesters):
                target.requesters.append(MetricRequestRequester(user_id=user_id, user_name=user_name))
            request.duplicate_of_id = target.id
        elif kind == "gitlab":
            issue_iid = int(ident)
        else:
            raise RequestNotFound(f"unknown request reference {ref!r}")
        request.status = "joined"
        request.duplicate_issue_url = issue_url
        try:
            s.commit()
        except IntegrityError:  # a double click added the same person twice: once is enough
            s.rollback()
        target_id = target.id if target is not None else None
        note = join_note(user_name or user_id, request)

    if issue_iid is None:
        # The earlier request is still pending; its follow-up writes the note once the issue exists.
        return JoinResult(issue_url=None, title=title)
    problem = None
    try:
        if gitlab_client_factory is None:
            raise GitLabNotConfigured("GitLab is not configured")
        issue = gitlab_client_factory().projects.get(project, lazy=True).issues.get(issue_iid)
        issue.notes.create({"body": note})
        issue_url = issue_url or str(issue.web_url)
        if target_id is not None:
            _mark_noted(session_factory, target_id, user_id)
    except Exception as exc:  # kept locally; `usagebot requests retry` writes the missing notes later
        problem = describe_error(exc, project)
    if kind == "gitlab" and issue_url:
        with session_factory() as s:
            get_request(s, request_id).duplicate_issue_url = issue_url
            s.commit()
    return JoinResult(issue_url=issue_url, title=title, note_problem=problem)


def join_note(name: str, request: MetricRequest) -> str:
    lines = [f"+1 from **{name}** (via Slack): {request.what}"]
    if request.account:
        lines.append(f"Account: {request.account}")
    if request.why:
        lines.append(f"Why it matters: {request.why}")
    return gitlab_markdown("\n\n".join(lines))


def _mark_noted(session_factory: SessionFactory, request_id: int, user_id: str) -> None:
    with session_factory() as s:
        row = s.scalars(
            select(MetricRequestRequester).where(
                MetricRequestRequester.request_id == request_id, MetricRequestRequester.user_id == user_id
            )
        ).first()
        if row is not None:
            row.noted_on_issue = True
            s.commit()


def write_missing_notes(
    session_factory: SessionFactory, gitlab_client_factory: Callable[[], gitlab.Gitlab], project: str
) -> list[str]:
    """ "+1" notes for people who joined a request but whose note could not be written yet; problems."""
    problems: list[str] = []
    with session_factory() as s:
        rows = s.execute(
            select(MetricRequestRequester, MetricRequest)
            .join(MetricRequest, MetricRequest.id == MetricRequestRequester.request_id)
            .where(
                MetricRequestRequester.noted_on_issue.is_(False),
                MetricRequestRequester.user_id != MetricRequest.requester_id,
                MetricRequest.issue_iid.is_not(None),
            )
        ).all()
        todo = [(r.request_id, r.user_id, r.user_name, m.issue_iid) for r, m in rows]
        joined = {
            (j.duplicate_of_id, j.requester_id): j
            for j in s.scalars(select(MetricRequest).where(MetricRequest.status == "joined"))
        }
        notes = {}
        for request_id, user_id, user_name, _iid in todo:
            source = joined.get((request_id, user_id))
            notes[(request_id, user_id)] = (
                join_note(user_name or user_id, source) if source else f"+1 from **{user_name or user_id}**"
            )
    for request_id, user_id, _name, iid in todo:
        try:
            issue = gitlab_client_factory().projects.get(project, lazy=True).issues.get(iid)
            issue.notes.create({"body": notes[(request_id, user_id)]})
            _mark_noted(session_factory, request_id, user_id)
        except Exception as exc:
            problems.append(f"+1 note for {user_id} on issue #{iid}: {describe_error(exc, project)}")
    return problems
