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
SUGGEST = 66.0  # "did you mean": only names at least this close (never a list of unrelated names)
_SF_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


@dataclass(frozen=True)
class AccountRef:
    id: str
    name: str


@dataclass(frozen=True)
class Resolution:
    """Exactly one account, several candidates to pick from, or none (with the nearest names)."""

    kind: Literal["one", "many", "none"]
    account: AccountRef | None = None
    how: Literal["id", "exact", "prefix", "fuzzy", ""] = ""  # how the one account was found
    candidates: tuple[AccountRef, ...] = ()
    nearest: tuple[str, ...] = field(default_factory=tuple)
    nearest_accounts: tuple[AccountRef, ...] = ()  # the same, with ids (for "did you mean" buttons)
    any_accounts: bool = True  # False when no account is loaded at all


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


def salesforce_suffix(id15: str) -> str:
    """The 3 characters that make a 15-character Salesforce id case-insensitive (its 18-character form)."""
    out = ""
    for chunk in (id15[0:5], id15[5:10], id15[10:15]):
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        out += _SF_ALPHABET[bits]
    return out


def salesforce_id_forms(text: str) -> list[str]:
    """The ids `text` can stand for: itself; an 18-character Salesforce id in any case, read back to its
    case-exact form through its suffix (and its 15-character prefix); a 15-character id (case-sensitive)
    with its 18-character form."""
    forms = [text]
    if len(text) == 18 and text.isalnum():
        suffix = text[15:].upper()
        if all(ch in _SF_ALPHABET for ch in suffix):
            chars = list(text[:15])
            for j, ch in enumerate(suffix):
                bits = _SF_ALPHABET.index(ch)
                for i in range(5):
                    k = j * 5 + i
                    chars[k] = chars[k].upper() if bits >> i & 1 else chars[k].lower()
            id15 = "".join(chars)
            forms += [id15 + salesforce_suffix(id15), id15]
    elif len(text) == 15 and text.isalnum():
        forms.append(text + salesforce_suffix(text))
    return list(dict.fromkeys(forms))


def resolve_account(session: Session, text: str) -> Resolution:
    """The account `text` names, the same way for Slack and the CLI. Never raises for odd input.

    1. a CRM account id (a Salesforce id in its 18-character form in any case, or its case-sensitive
       15-character form); 2. the exact name, ignoring case, accents and punctuation; 3. the unique
    start of a name; 4. a close fuzzy match. Several matches are offered to pick from; none gives
    "did you mean" names only when they are close.
    """
    text = (text or "").strip()[:MAX_QUERY]
    if not text:
        return Resolution("none")
    # 1. CRM account id.
    hits = session.execute(
        select(Account.id, Account.name).where(Account.id.in_(salesforce_id_forms(text))).order_by(Account.id)
    ).all()
    if hits:
        return Resolution("one", AccountRef(hits[0][0], hits[0][1]), how="id")
    key = name_key(text)
    cache = _names(session)
    if not key:
        return Resolution("none")
    # 2. Exact name, ignoring case, accents and punctuation.
    exact = session.execute(
        select(Account.id, Account.name).where(Account.name_key == key).order_by(Account.id).limit(MAX_CANDIDATES + 1)
    ).all()
    if len(exact) == 1:
        return Resolution("one", AccountRef(exact[0][0], exact[0][1]), how="exact")
    if len(exact) > 1:  # two accounts with the same name: let the person pick by id
        return Resolution("many", candidates=tuple(AccountRef(r[0], r[1]) for r in exact[:MAX_CANDIDATES]))
    # 3. Unique prefix of the name.
    prefixed = session.execute(
        select(Account.id, Account.name)
        .where(Account.name_key.like(_like_escape(key) + "%", escape="\\"))
        .order_by(Account.name_key, Account.id)
        .limit(MAX_CANDIDATES + 1)
    ).all()
    if len(prefixed) == 1:
        return Resolution("one", AccountRef(prefixed[0][0], prefixed[0][1]), how="prefix")
    if len(prefixed) > 1:
        return Resolution("many", candidates=tuple(AccountRef(r[0], r[1]) for r in prefixed[:MAX_CANDIDATES]))
    # 4. Fuzzy match over all names.
    if not cache.keys:
        return Resolution("none", any_accounts=False)
    best = process.extract(key, cache.keys, scorer=fuzz.WRatio, limit=MAX_CANDIDATES)
    top = best[0][1] if best else 0.0
    runner_up = best[1][1] if len(best) > 1 else 0.0
    if top >= CLEAR_WINNER and top - runner_up >= MARGIN:
        return Resolution("one", cache.refs[best[0][2]], how="fuzzy")
    close = [cache.refs[i] for _, score, i in best if score >= CLOSE]
    if len(close) == 1:
        return Resolution("one", close[0], how="fuzzy")
    if close:
        return Resolution("many", candidates=tuple(close))
    return _none([cache.refs[i] for _, score, i in best if score >= SUGGEST])


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
