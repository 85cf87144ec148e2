"""The request form and its Metrics Dictionary search: validation, storing the request with its
candidates, "This is it" (answered by an existing metric), and the request's one-line summary."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models.requests import COUNT_KINDS, MetricRequest, MetricRequestRequester
from db.queries import metrics as metric_queries
from workflows import metric_card
from workflows.metric_card import MetricCard

log = logging.getLogger(__name__)

WHAT_MIN, WHAT_MAX = 10, 3000
WHY_MAX = 3000
ACCOUNT_MAX = 255
CANDIDATES = 5
SUMMARY_MAX = 80

SessionFactory = Callable[[], Session]


class RequestNotFound(LookupError):
    """The request behind a click no longer exists (or never did)."""


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


def summary(what: str, limit: int = SUMMARY_MAX) -> str:
    """The request's first line, one line, cut at a word boundary."""
    line = " ".join(what.strip().split())
    if len(line) <= limit:
        return line
    cut = line[: limit - 1].rsplit(" ", 1)[0] or line[: limit - 1]
    return cut.rstrip(",;:. ") + "…"


def account_label(session: Session, account_id: str | None) -> str | None:
    """The account's name for the form's account field (the id itself if it is not known)."""
    if not account_id:
        return None
    from db.models.usage import Account

    account = session.get(Account, account_id)
    return account.name if account is not None else account_id
