"""GitLab filing outbox: every issue the bot files goes through here, exactly once, surviving crashes.

How a filing stays exactly-once:
1. `enqueue_filing` writes the issue (title, description with a hidden marker, labels…) under a
   unique idempotency key; the caller COMMITS before anyone talks to GitLab. A second submit with
   the same key finds the same row.
2. `file_one` claims the row with a short lease (an UPDATE only one worker can win), searches the
   project for the marker (a crash after GitLab created the issue but before we recorded it left
   one behind), creates the issue only if none is found, and records it.
   The create call itself is never retried blindly by python-gitlab: a timeout after GitLab
   created the issue would otherwise file a second one; the next pass searches first instead.
3. After recording, the kind's follow-up (registered with `register_follow_up`) runs, e.g. "DM the
   requester the link"; a failed follow-up is retried on later passes without refiling.

Failures keep the row pending with a plain reason and exponential backoff; `file_pending` (run by
the scheduler every few minutes and by `usagebot requests retry`) files what is due.

Usage by another area (e.g. data-quality):

    from workflows import outbox

    @outbox.follow_up("data_quality.link_in_thread")
    def _link(ctx: outbox.FollowUpContext) -> None:
        ...  # ctx.filing.issue_url, ctx.payload, ctx.slack, ctx.session

    outbox.enqueue_filing(session, kind="data_quality", idempotency_key=f"dq:{view_id}", project=...,
                          title=..., description=..., labels=["data quality"], confidential=True,
                          on_filed=("data_quality.link_in_thread", {"issue_id": 12}))
    session.commit()
    outbox.file_one(session_factory, gitlab_factory(settings), slack_client, f"dq:{view_id}")
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any

import gitlab
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models.requests import GitLabFiling
from db.session import rows_changed
from workflows.gitlab_client import describe_error
from workflows.ports import SlackEdge
from workflows.settings import Settings

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]
GitLabFactory = Callable[[], gitlab.Gitlab]

# A worker owns a claimed row this long; longer than a GitLab call with its retries plus a follow-up.
LEASE = timedelta(seconds=120)
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_MAX = timedelta(hours=1)
TITLE_MAX = 255

# Modules that register follow-ups; imported before a pass so a CLI or scheduler run knows them all.
FOLLOW_UP_MODULES: tuple[str, ...] = ("workflows.metric_request.notify", "workflows.data_quality")


def marker(idempotency_key: str) -> str:
    """The hidden marker written into the issue description (invisible in GitLab's rendering)."""
    return f"<!-- usagebot-request: {idempotency_key} -->"


def now_utc() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back naive; they are stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, 8… minutes after the n-th failed attempt, at most an hour."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_MAX)


# ----------------------------------------------------------------------------------- follow-ups
@dataclass
class FollowUpContext:
    """What a follow-up gets: an open session (committed after it returns), the filed row, clients."""

    session: Session
    filing: GitLabFiling
    payload: dict[str, Any]
    slack: Any  # a slack_sdk WebClient (or None when no Slack is configured)
    gitlab: gitlab.Gitlab | None


FollowUp = Callable[[FollowUpContext], None]
_FOLLOW_UPS: dict[str, FollowUp] = {}


def register_follow_up(name: str, handler: FollowUp) -> None:
    _FOLLOW_UPS[name] = handler


def follow_up(name: str) -> Callable[[FollowUp], FollowUp]:
    """Decorator form of `register_follow_up`."""

    def deco(handler: FollowUp) -> FollowUp:
        register_follow_up(name, handler)
        return handler

    return deco


def _load_follow_up_modules() -> None:
    for name in FOLLOW_UP_MODULES:
        try:
            import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # the module exists but something it imports is missing: a real bug
                raise


# ----------------------------------------------------------------------------------- enqueue
def enqueue_filing(
    session: Session,
    *,
    kind: str,
    idempotency_key: str,
    project: str,
    title: str,
    description: str,
    labels: Iterable[str] = (),
    confidential: bool = False,
    on_filed: tuple[str, dict[str, Any]] | None = None,
) -> GitLabFiling:
    """Store the issue to file under `idempotency_key` (or return the row already stored under it).

    Does not commit: the caller commits (with its own domain row) BEFORE calling `file_one`.
    The marker is appended to the description if it is not there yet.
    """
    existing = filing_by_key(session, idempotency_key)
    if existing is not None:
        return existing
    mark = marker(idempotency_key)
    if mark not in description:
        description = f"{description.rstrip()}\n\n{mark}\n"
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"
    name, payload = on_filed if on_filed is not None else (None, {})
    row = GitLabFiling(
        kind=kind,
        idempotency_key=idempotency_key,
        project=project,
        title=title,
        description=description,
        labels=list(labels),
        confidential=confidential,
        on_filed=name,
        on_filed_payload=dict(payload),
        status="pending",
        attempts=0,
        next_attempt_at=now_utc(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        # A concurrent submit stored the same key first: that row is the one.
        found = filing_by_key(session, idempotency_key)
        if found is None:
            raise
        return found
    return row


def filing_by_key(session: Session, idempotency_key: str) -> GitLabFiling | None:
    return session.scalars(select(GitLabFiling).where(GitLabFiling.idempotency_key == idempotency_key)).first()


# ----------------------------------------------------------------------------------- filing
@dataclass(frozen=True)
class FilingOutcome:
    key: str
    kind: str
    title: str
    status: str  # "filed" | "pending" | "busy" (another worker holds it) | "missing"
    issue_url: str | None = None
    issue_iid: int | None = None
    reason: str | None = None  # why it is still pending
    next_attempt_at: datetime | None = None
    found_existing: bool = False  # the issue was already in GitLab (marker found), not created now
    followed_up: bool = False  # the follow-up ran successfully in this call
    follow_up_error: str | None = None


@dataclass
class RetryReport:
    filed: list[FilingOutcome] = field(default_factory=list)
    pending: list[FilingOutcome] = field(default_factory=list)
    followed_up: int = 0
    follow_up_failed: list[FilingOutcome] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # from extra retry steps (e.g. "+1" notes)

    @property
    def ok(self) -> bool:
        return not self.pending and not self.follow_up_failed and not self.problems


# Extra work a retry pass does for a kind besides filing (e.g. GitLab notes that failed earlier):
# name -> fn(session_factory, gitlab_client_factory, settings, slack_edge) -> list of problems (empty when all done).
RetryStep = Callable[[SessionFactory, GitLabFactory, Settings, SlackEdge | None], list[str]]
_RETRY_STEPS: dict[str, RetryStep] = {}


def register_retry_step(name: str, step: RetryStep) -> None:
    _RETRY_STEPS[name] = step


def _claim(session_factory: SessionFactory, filing_id: int, *, filed: bool, now: datetime) -> bool:
    """Take the row for LEASE; False when it is not in the wanted state or another worker holds it."""
    wanted = (
        (GitLabFiling.status == "filed") & GitLabFiling.followed_up_at.is_(None)
        if filed
        else GitLabFiling.status == "pending"
    )
    with session_factory() as s:
        result = s.execute(
            update(GitLabFiling)
            .where(
                GitLabFiling.id == filing_id,
                wanted,
                or_(GitLabFiling.claimed_until.is_(None), GitLabFiling.claimed_until < now),
            )
            .values(claimed_until=now + LEASE)
        )
        s.commit()
        return rows_changed(result) == 1


def _outcome(row: GitLabFiling, status: str | None = None, **extra: Any) -> FilingOutcome:
    return FilingOutcome(
        key=row.idempotency_key,
        kind=row.kind,
        title=row.title,
        status=status or row.status,
        issue_url=row.issue_url,
        issue_iid=row.issue_iid,
        reason=row.last_error if (status or row.status) == "pending" else None,
        next_attempt_at=aware(row.next_attempt_at),
        follow_up_error=row.follow_up_error,
        **extra,
    )


def _find_by_marker(project: Any, row: GitLabFiling) -> Any | None:
    mark = marker(row.idempotency_key)
    for issue in project.issues.list(search=row.idempotency_key, state="all", per_page=20, get_all=False):
        if mark in (issue.description or ""):
            return issue
    return None


def file_one(
    session_factory: SessionFactory,
    gitlab_client_factory: GitLabFactory,
    slack_client: Any,
    idempotency_key: str,
    *,
    now: datetime | None = None,
) -> FilingOutcome:
    """File one stored filing now (if still pending and not held by another worker), then follow up."""
    now = now or now_utc()
    with session_factory() as s:
        row = filing_by_key(s, idempotency_key)
        if row is None:
            return FilingOutcome(idempotency_key, "", "", "missing", reason="no such filing")
        filing_id = row.id
    if not _claim(session_factory, filing_id, filed=False, now=now):
        with session_factory() as s:
            row = s.get_one(GitLabFiling, filing_id)
            if row.status == "filed":
                outcome = _outcome(row)
            else:
                return _outcome(row, "busy")
        if row.on_filed and row.followed_up_at is None:
            return _follow_up(session_factory, filing_id, slack_client, gitlab_client_factory, now=now) or outcome
        return outcome
    return _file_claimed(session_factory, gitlab_client_factory, slack_client, filing_id, now=now)


def _file_claimed(
    session_factory: SessionFactory,
    gitlab_client_factory: GitLabFactory,
    slack_client: Any,
    filing_id: int,
    *,
    now: datetime,
) -> FilingOutcome:
    with session_factory() as s:
        row = s.get_one(GitLabFiling, filing_id)
        s.expunge(row)
    found_existing = False
    try:
        gl = gitlab_client_factory()
        project = gl.projects.get(row.project, lazy=True)
        issue = _find_by_marker(project, row)
        if issue is not None:
            found_existing = True
        else:
            data: dict[str, Any] = {"title": row.title, "description": row.description}
            if row.labels:
                data["labels"] = ",".join(row.labels)
            if row.confidential:
                data["confidential"] = True
            issue = project.issues.create(data, retry_transient_errors=False)
    except Exception as exc:  # every failure keeps the row pending with a reason; nothing is lost
        reason = describe_error(exc, row.project)
        log.warning("filing %s (%s) still pending: %s", row.idempotency_key, row.kind, reason)
        with session_factory() as s:
            stored = s.get_one(GitLabFiling, filing_id)
            stored.attempts += 1
            stored.last_error = reason
            stored.next_attempt_at = now + backoff(stored.attempts)
            stored.claimed_until = None
            s.commit()
            return _outcome(stored)
    with session_factory() as s:
        stored = s.get_one(GitLabFiling, filing_id)
        stored.status = "filed"
        stored.issue_iid = int(issue.iid)
        stored.issue_url = str(issue.web_url)
        stored.filed_at = now_utc()
        stored.attempts += 1
        stored.last_error = None
        stored.claimed_until = None
        s.commit()
        log.info("filed %s (%s) as %s", stored.idempotency_key, stored.kind, stored.issue_url)
        outcome = _outcome(stored, found_existing=found_existing)
        has_follow_up = stored.on_filed is not None
    if has_follow_up:
        followed = _follow_up(session_factory, filing_id, slack_client, gitlab_client_factory, now=now)
        if followed is not None:
            return replace(followed, found_existing=found_existing)
    return outcome


def _follow_up(
    session_factory: SessionFactory,
    filing_id: int,
    slack_client: Any,
    gitlab_client_factory: GitLabFactory | None,
    *,
    now: datetime,
) -> FilingOutcome | None:
    """Run the registered follow-up of a filed row once; None when another worker holds it."""
    if not _claim(session_factory, filing_id, filed=True, now=now):
        return None
    with session_factory() as s:
        row = s.get_one(GitLabFiling, filing_id)
        handler = _FOLLOW_UPS.get(row.on_filed or "")
        if handler is None:
            _load_follow_up_modules()
            handler = _FOLLOW_UPS.get(row.on_filed or "")
        try:
            if handler is None:
                raise LookupError(f"no follow-up registered under {row.on_filed!r}")
            gl = None
            if gitlab_client_factory is not None:
                try:
                    gl = gitlab_client_factory()
                except Exception:  # a follow-up that needs GitLab will say so itself
                    gl = None
            payload = dict(row.on_filed_payload or {})
            handler(FollowUpContext(session=s, filing=row, payload=payload, slack=slack_client, gitlab=gl))
        except Exception as exc:
            s.rollback()
            row = s.get_one(GitLabFiling, filing_id)
            row.follow_up_error = f"{type(exc).__name__}: {exc}"[:500]
            row.claimed_until = None
            s.commit()
            log.warning("follow-up %s of %s failed: %s", row.on_filed, row.idempotency_key, row.follow_up_error)
            return _outcome(row)
        row.followed_up_at = now_utc()
        row.follow_up_error = None
        row.claimed_until = None
        s.commit()
        return _outcome(row, followed_up=True)


def file_pending(
    session_factory: SessionFactory,
    gitlab_client_factory: GitLabFactory,
    slack_client: Any,
    *,
    due_only: bool = True,
    kinds: Iterable[str] | None = None,
    limit: int = 200,
    now: datetime | None = None,
) -> RetryReport:
    """One pass: file every pending filing that is due (all of them with due_only=False), then retry
    follow-ups that failed earlier. Never raises for a GitLab or Slack problem; reports it instead.
    """
    _load_follow_up_modules()
    now = now or now_utc()
    kinds = list(kinds) if kinds is not None else None
    cached: list[gitlab.Gitlab] = []

    def shared_client() -> gitlab.Gitlab:
        # One client per pass; a factory failure (e.g. no token) is raised per filing, and reported.
        if not cached:
            cached.append(gitlab_client_factory())
        return cached[0]

    with session_factory() as s:
        q = select(GitLabFiling.id).where(GitLabFiling.status == "pending")
        if due_only:
            q = q.where(GitLabFiling.next_attempt_at <= now)
        if kinds is not None:
            q = q.where(GitLabFiling.kind.in_(kinds))
        pending_ids = list(s.scalars(q.order_by(GitLabFiling.id).limit(limit)))
        q2 = select(GitLabFiling.id).where(
            GitLabFiling.status == "filed", GitLabFiling.followed_up_at.is_(None), GitLabFiling.on_filed.is_not(None)
        )
        if kinds is not None:
            q2 = q2.where(GitLabFiling.kind.in_(kinds))
        follow_ids = list(s.scalars(q2.order_by(GitLabFiling.id).limit(limit)))

    report = RetryReport()
    for filing_id in pending_ids:
        if not _claim(session_factory, filing_id, filed=False, now=now):
            continue  # another worker is on it, or it was filed since the query
        outcome = _file_claimed(session_factory, shared_client, slack_client, filing_id, now=now)
        _tally(report, outcome)
    for filing_id in follow_ids:
        followed = _follow_up(session_factory, filing_id, slack_client, shared_client, now=now)
        if followed is not None:
            _tally(report, followed, refiled=False)
    return report


def _tally(report: RetryReport, outcome: FilingOutcome, *, refiled: bool = True) -> None:
    if outcome.status == "pending":
        report.pending.append(outcome)
        return
    if refiled:
        report.filed.append(outcome)
    if outcome.follow_up_error:
        report.follow_up_failed.append(outcome)
    if outcome.followed_up:
        report.followed_up += 1


def pending_filings(session: Session, kinds: Iterable[str] | None = None) -> list[GitLabFiling]:
    q = select(GitLabFiling).where(GitLabFiling.status == "pending")
    if kinds is not None:
        q = q.where(GitLabFiling.kind.in_(list(kinds)))
    return list(session.scalars(q.order_by(GitLabFiling.id)))


def retry_pending(settings: Settings, edge: SlackEdge | None = None, *, due_only: bool = True) -> RetryReport:
    """One full pass with clients built from settings: the scheduler's job and `usagebot requests retry`.
    Without a Slack edge (or a bot token) filings still go to GitLab; Slack follow-ups wait for a later pass."""
    from db.session import session_factory
    from workflows.gitlab_client import gitlab_factory

    sessions = session_factory(settings.database_url)
    gl = gitlab_factory(settings)
    slack = edge.client() if edge is not None else None
    report = file_pending(sessions, gl, slack, due_only=due_only)
    for name, step in sorted(_RETRY_STEPS.items()):
        try:
            report.problems.extend(step(sessions, gl, settings, edge))
        except Exception as exc:  # one failing step must not hide the others' results
            report.problems.append(f"{name}: {describe_error(exc)}")
    if report.filed or report.pending or report.follow_up_failed or report.problems:
        log.info(
            "GitLab outbox pass: %d filed, %d still pending, %d follow-ups done, %d follow-ups failed, %d problems",
            len(report.filed),
            len(report.pending),
            report.followed_up,
            len(report.follow_up_failed),
            len(report.problems),
        )
    return report
