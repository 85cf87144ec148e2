"""Finding the account a person means: CRM id, exact name (any case), unique prefix, then a fuzzy match.

The fuzzy step compares against every account name, so the (id, name, name_key) list is cached per
database and refreshed when the data changes (a new SyncRun, or accounts added or removed).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Account, SyncRun
from db.names import name_key

MAX_QUERY = 200  # characters of a lookup that matter; longer text is refused by the caller
MAX_CANDIDATES = 5
CLEAR_WINNER = 90.0  # fuzzy score above which one name alone is the answer…
MARGIN = 8.0  # …when the runner-up is this far behind
CLOSE = 70.0  # fuzzy score above which a name is offered as a candidate


@dataclass(frozen=True)
class AccountRef:
    id: str
    name: str


@dataclass(frozen=True)
class Resolution:
    """Exactly one account, several candidates to pick from, or none (with the nearest names)."""

    kind: Literal["one", "many", "none"]
    account: AccountRef | None = None
    candidates: tuple[AccountRef, ...] = ()
    nearest: tuple[str, ...] = field(default_factory=tuple)
    nearest_accounts: tuple[AccountRef, ...] = ()  # the same, with ids (for "did you mean" buttons)


@dataclass
class _NameCache:
    stamp: tuple[object, ...] | None = None
    refs: list[AccountRef] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


_CACHES: dict[str, _NameCache] = {}
_LOCK = threading.Lock()


def _stamp(session: Session) -> tuple[object, ...]:
    # One cheap query: changes whenever a sync runs or accounts are added, removed or renamed in bulk.
    latest_sync = session.scalar(select(func.max(SyncRun.id)))
    count, lo, hi = session.execute(
        select(func.count(Account.id), func.min(Account.name_key), func.max(Account.name_key))
    ).one()
    return (latest_sync, count, lo, hi)


def _names(session: Session) -> _NameCache:
    url = session.get_bind().engine.url.render_as_string(hide_password=True)
    stamp = _stamp(session)
    with _LOCK:
        cache = _CACHES.setdefault(url, _NameCache())
        if cache.stamp == stamp:
            return cache
    rows = session.execute(select(Account.id, Account.name, Account.name_key).order_by(Account.name_key)).all()
    fresh = _NameCache(stamp, [AccountRef(r[0], r[1]) for r in rows], [r[2] for r in rows])
    with _LOCK:
        _CACHES[url] = fresh
    return fresh


def clear_cache() -> None:
    with _LOCK:
        _CACHES.clear()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def resolve_account(session: Session, text: str) -> Resolution:
    """The account `text` names. Never raises for odd input: anything unmatched is `none`."""
    text = (text or "").strip()[:MAX_QUERY]
    if not text:
        return Resolution("none")
    # 1. CRM account id, exactly.
    hit = session.execute(select(Account.id, Account.name).where(Account.id == text)).first()
    if hit is not None:
        return Resolution("one", AccountRef(hit[0], hit[1]))
    key = name_key(text)
    cache = _names(session)
    if not key:
        return _none(cache.refs[:MAX_CANDIDATES])
    # 2. Exact name, ignoring case, accents and punctuation.
    exact = session.execute(
        select(Account.id, Account.name).where(Account.name_key == key).order_by(Account.id).limit(MAX_CANDIDATES + 1)
    ).all()
    if len(exact) == 1:
        return Resolution("one", AccountRef(exact[0][0], exact[0][1]))
    if len(exact) > 1:  # two accounts with the same name: let the person pick by id
        return Resolution("many", candidates=tuple(AccountRef(r[0], r[1]) for r in exact[:MAX_CANDIDATES]))
    # 3. Unique prefix of the name.
    prefixed = session.execute(
        select(Account.id, Account.name)
        .where(Account.name_key.like(_like_escape(key) + "%", escape="\\"))
        .order_by(Account.name_key)
        .limit(MAX_CANDIDATES + 1)
    ).all()
    if len(prefixed) == 1:
        return Resolution("one", AccountRef(prefixed[0][0], prefixed[0][1]))
    if len(prefixed) > 1:
        return Resolution("many", candidates=tuple(AccountRef(r[0], r[1]) for r in prefixed[:MAX_CANDIDATES]))
    # 4. Fuzzy match over all names.
    if not cache.keys:
        return Resolution("none")
    best = process.extract(key, cache.keys, scorer=fuzz.WRatio, limit=MAX_CANDIDATES)
    top = best[0][1] if best else 0.0
    runner_up = best[1][1] if len(best) > 1 else 0.0
    if top >= CLEAR_WINNER and top - runner_up >= MARGIN:
        return Resolution("one", cache.refs[best[0][2]])
    close = [cache.refs[i] for _, score, i in best if score >= CLOSE]
    if len(close) == 1:
        return Resolution("one", close[0])
    if close:
        return Resolution("many", candidates=tuple(close))
    return _none([cache.refs[i] for _, _, i in best])


def _none(refs: list[AccountRef]) -> Resolution:
    return Resolution("none", nearest=tuple(r.name for r in refs), nearest_accounts=tuple(refs))


def label_versions(session: Session, instance_ids: list[int]) -> dict[int, int]:
    """instance id -> label_version: relabel buttons carry it so a click can compare-and-set."""
    from db.models import Instance

    if not instance_ids:
        return {}
    rows = session.execute(select(Instance.id, Instance.label_version).where(Instance.id.in_(instance_ids))).all()
    return {r[0]: r[1] for r in rows}


def account_ref(session: Session, account_id: str) -> AccountRef | None:
    """The account with exactly this id (button values carry ids)."""
    hit = session.execute(select(Account.id, Account.name).where(Account.id == (account_id or "")[:64])).first()
    return AccountRef(hit[0], hit[1]) if hit else None
