"""Reading stored scores (account_scores): only rows of the fingerprint asked for, so stale rows never answer."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AccountScore
from scoring.stored import StoredScore, from_json

_ID_CHUNK = 5000


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), _ID_CHUNK):
        yield ids[i : i + _ID_CHUNK]


def read_scores(
    session: Session, month: date, account_ids: Collection[str] | None, fingerprint: str
) -> dict[str, StoredScore]:
    """Stored scores of `month` with `fingerprint` for `account_ids` (None = every account), by account id."""
    t = AccountScore.__table__.c
    stmt = select(t.account_id, t.summary).where(t.month == month, t.fingerprint == fingerprint)
    out: dict[str, StoredScore] = {}
    if account_ids is None:
        for acc_id, summary in session.execute(stmt):
            out[acc_id] = from_json(acc_id, month, summary)
        return out
    for part in _chunks(sorted(set(account_ids))):
        for acc_id, summary in session.execute(stmt.where(t.account_id.in_(part))):
            out[acc_id] = from_json(acc_id, month, summary)
    return out


def account_series(
    session: Session, account_id: str, months: Collection[date], fingerprint: str
) -> dict[date, StoredScore]:
    """One account's stored scores of `months` with `fingerprint`, by month (months not stored are absent)."""
    t = AccountScore.__table__.c
    stmt = select(t.month, t.summary).where(
        t.account_id == account_id, t.month.in_(sorted(months)), t.fingerprint == fingerprint
    )
    return {m: from_json(account_id, m, summary) for m, summary in session.execute(stmt)}
