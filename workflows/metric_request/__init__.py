"""Guided metric request: form → Metrics Dictionary candidates → answered, joined, or filed exactly once.

Plain Python in and out (no Slack types). The Slack side calls, in order:
`validate` → `start_request` (stores the request under the submission's key and its candidates)
→ `answer` ("This is it") or `find_duplicates` → `join` ("Add me to it") or `file_request`.
Filing goes through the outbox (`workflows/outbox.py`): stored before GitLab is called, found by its
marker after a crash, retried until filed; the follow-up `metric_request.notify` records the issue,
DMs everyone who asked for it and posts a note in #cs-product-analytics.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gitlab
from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models.requests import COUNT_KINDS, MetricRequest, MetricRequestRequester
from db.queries import metrics as metric_queries
from workflows import metric_card, outbox
from workflows.escaping import gitlab_markdown, gitlab_templates, mrkdwn
from workflows.gitlab_client import GitLabNotConfigured, describe_error
from workflows.metric_card import MetricCard
from workflows.ports import SlackEdge
from workflows.settings import Settings

log = logging.getLogger(__name__)

KIND = "metric_request"
LABEL = "analytics instrumentation"
FOLLOW_UP = "metric_request.notify"
WHAT_MIN, WHAT_MAX = 10, 3000
WHY_MAX = 3000
ACCOUNT_MAX = 255
CANDIDATES = 5
# Two requests are "the same" at this rapidfuzz token-set score (0–100) over normalized text.
DUPLICATE_SCORE = 80
DUPLICATES_SHOWN = 3
SUMMARY_MAX = 80


_TEMPLATES = gitlab_templates()

SessionFactory = Callable[[], Session]


class RequestNotFound(LookupError):
    """The request behind a click no longer exists (or never did)."""


class AlreadyDecided(Exception):
    """The request was answered by an existing metric or joined to another one: nothing to file."""


# ----------------------------------------------------------------------------------- form
@dataclass(frozen=True)
class RequestForm:
    what: str
    product_group: str | None = None
    count_kind: str | None = None
    why: str | None = None
    account: str | None = None


def normalize(text: str) -> str:
    """Lower case, words only, single spaces: what duplicate detection compares."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text or None


def validate(form: RequestForm) -> dict[str, str]:
    """Field name → friendly error, for everything wrong with the form (empty when it is fine)."""
    errors: dict[str, str] = {}
    what = (form.what or "").strip()
    if not what:
        errors["what"] = "Please describe what should be measured."
    elif len(what) < WHAT_MIN:
        errors["what"] = f"Please say a bit more (at least {WHAT_MIN} characters) so Product Analytics can act on it."
    elif len(what) > WHAT_MAX:
        errors["what"] = f"Please keep it under {WHAT_MAX:,} characters (this is {len(what):,}); a summary is enough."
    if form.why and len(form.why.strip()) > WHY_MAX:
        errors["why"] = f"Please keep it under {WHY_MAX:,} characters (this is {len(form.why.strip()):,})."
    if form.count_kind and form.count_kind not in COUNT_KINDS:
        errors["count_kind"] = "Please pick one of the listed kinds of count."
    if form.account and len(form.account.strip()) > ACCOUNT_MAX:
        errors["account"] = f"Please keep the account under {ACCOUNT_MAX} characters."
    return errors


def product_areas(session: Session) -> list[str]:
    """The Metrics Dictionary's product groups (active definitions), sorted: what the modal offers."""
    return metric_queries.product_groups(session)


# ----------------------------------------------------------------------------------- search
_WARMING = threading.Lock()


def warm_search(session_factory: SessionFactory) -> None:
    """Build this process's Metrics Dictionary index in the background (a no-op when it is current)."""

    def build() -> None:
        if not _WARMING.acquire(blocking=False):
            return  # already being built
        try:
            from workflows.metric_search import index_for

            with session_factory() as s:
                index_for(s)
        except Exception:  # only a head start: the search builds it itself when needed
            log.warning("warming the metric search index failed", exc_info=True)
        finally:
            _WARMING.release()

    threading.Thread(target=build, name="metric-search-warm", daemon=True).start()


def _candidates(session: Session, form: RequestForm) -> list[dict[str, Any]]:
    """The closest metrics' cards, or none at all when even the best does not fit (confidence < 0.5):
    then nothing in the dictionary measures it, and the flow goes straight on to filing."""
    from workflows.metric_search import NO_MATCH_BELOW, search

    cards = metric_card.cards_for(session, search(session, form.what, limit=CANDIDATES))
    if not cards or (cards[0].confidence or 0.0) < NO_MATCH_BELOW:
        return []
    return [card.stored() for card in cards]


def start_request(
    session: Session,
    *,
    key: str,
    requester_id: str,
    requester_name: str | None,
    form: RequestForm,
    channel_id: str | None = None,
) -> MetricRequest:
    """Store the request under `key` (a second submit of the same view returns the first) with its
    candidates from the Metrics Dictionary. Commits.
    """
    existing = session.scalars(select(MetricRequest).where(MetricRequest.key == key)).first()
    if existing is not None:
        return existing
    what = form.what.strip()
    request = MetricRequest(
        key=key,
        requester_id=requester_id,
        requester_name=requester_name,
        what=what,
        normalized=normalize(what),
        product_group=_clean(form.product_group),
        count_kind=_clean(form.count_kind),
        why=_clean(form.why),
        account=_clean(form.account),
        channel_id=channel_id,
        candidates=_candidates(session, form),
        status="draft",
    )
    request.requesters.append(MetricRequestRequester(user_id=requester_id, user_name=requester_name))
    try:
        with session.begin_nested():
            session.add(request)
    except IntegrityError:
        # The same view was submitted twice at once: the other submit stored it first.
        found = session.scalars(select(MetricRequest).where(MetricRequest.key == key)).first()
        if found is None:
            raise
        return found
    session.commit()
    return request


def get_request(session: Session, request_id: int) -> MetricRequest:
    request = session.get(MetricRequest, request_id)
    if request is None:
        raise RequestNotFound(f"metric request {request_id} not found")
    return request


# ----------------------------------------------------------------------------------- "This is it"
@dataclass(frozen=True)
class Answer:
    key_path: str
    card: MetricCard  # the metric's card, as the candidates showed it

    @property
    def metrics_url(self) -> str:
        return self.card.url


def answer(session: Session, request_id: int, key_path: str) -> Answer:
    """Record the request as answered by an existing metric. Commits."""
    request = get_request(session, request_id)
    chosen = next((c for c in request.candidates if c["key_path"] == key_path), None)
    if chosen is None:
        raise RequestNotFound(f"{key_path} was not among the metrics shown for request {request_id}")
    if request.status in ("draft", "answered"):
        request.status = "answered"
        request.answered_key_path = key_path
        session.commit()
    return Answer(key_path=key_path, card=metric_card.from_stored(chosen))


# ----------------------------------------------------------------------------------- duplicates
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
        note = _join_note(user_name or user_id, request)

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


def _join_note(name: str, request: MetricRequest) -> str:
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
                _join_note(user_name or user_id, source) if source else f"+1 from **{user_name or user_id}**"
            )
    for request_id, user_id, _name, iid in todo:
        try:
            issue = gitlab_client_factory().projects.get(project, lazy=True).issues.get(iid)
            issue.notes.create({"body": notes[(request_id, user_id)]})
            _mark_noted(session_factory, request_id, user_id)
        except Exception as exc:
            problems.append(f"+1 note for {user_id} on issue #{iid}: {describe_error(exc, project)}")
    return problems


# ----------------------------------------------------------------------------------- filing
def summary(what: str, limit: int = SUMMARY_MAX) -> str:
    """The request's first line, one line, cut at a word boundary."""
    line = " ".join(what.strip().split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] or line[: limit - 1]
    return cut.rstrip(",;:. ") + "…"


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
            issue.notes.create({"body": _join_note(person.user_name or person.user_id, source or request)})
            person.noted_on_issue = True
            s.commit()
    except Exception as exc:  # `write_missing_notes` in the next retry pass picks up the rest
        log.info("+1 notes on %s #%s deferred: %s", project, request.issue_iid, describe_error(exc, project))


def account_label(session: Session, account_id: str | None) -> str | None:
    """The account's name for the form's account field (the id itself if it is not known)."""
    if not account_id:
        return None
    from db.models.usage import Account

    account = session.get(Account, account_id)
    return account.name if account is not None else account_id


def _retry_notes(
    session_factory: SessionFactory,
    gitlab_client_factory: Callable[[], gitlab.Gitlab],
    settings: Settings,
    _edge: SlackEdge | None,
) -> list[str]:
    return write_missing_notes(session_factory, gitlab_client_factory, settings.metric_request_project)


outbox.register_retry_step("metric_request.notes", _retry_notes)
