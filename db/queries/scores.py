"""Reading stored scores (account_scores): only rows of the fingerprint asked for, so stale rows never answer."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date
from types import MappingProxyType
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import AccountScore
from scoring.model import LICENSE_UTILIZATION
from scoring.stored import COLOR_COLUMNS, StoredScore, from_json

_ID_CHUNK = 5000


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), _ID_CHUNK):
        yield ids[i : i + _ID_CHUNK]


def read_scores(
    session: Session, month: date, account_ids: Collection[str] | None, fingerprint: str, *, detail: bool = False
) -> dict[str, StoredScore]:
    """Stored scores of `month` with `fingerprint` for `account_ids` (None = every account), by account id.

    Without `detail` (what portfolio views need) primaries, pings and subscriptions are left empty."""
    t = AccountScore.__table__.c
    cols = (t.account_id, t.summary, t.detail) if detail else (t.account_id, t.summary)
    stmt = select(*cols).where(t.month == month, t.fingerprint == fingerprint)
    out: dict[str, StoredScore] = {}
    parts: list[Sequence[str] | None] = [None] if account_ids is None else list(_chunks(sorted(set(account_ids))))
    for part in parts:
        # fetchall: iterating a result fetches row by row, several times slower over 20,000 rows.
        for r in session.execute(stmt if part is None else stmt.where(t.account_id.in_(part))).all():
            out[r[0]] = from_json(r[0], month, r[1], r[2] if detail else None)
    return out


class StoredRank(NamedTuple):
    """What sorting, counting and filtering a portfolio need of an account's stored month (the narrow columns)."""

    health_color: str
    purchase_intent: bool
    utilization: float | None
    unknown_instances: int
    health_score: float | None
    colors: Mapping[str, str | None]  # measure key -> colour: the measures of `COLOR_COLUMNS`, License utilization
    # The month's product tiers and the account's flag kinds; None on a row written before they were kept.
    tiers: tuple[str, ...] | None
    flag_kinds: frozenset[str] | None


def read_ranks(
    session: Session, month: date, account_ids: Collection[str] | None, fingerprint: str
) -> dict[str, StoredRank]:
    """The narrow columns of `month`'s stored scores with `fingerprint` for `account_ids` (None = every
    account), by account id: no `summary` decoded."""
    t = AccountScore.__table__.c
    keys = list(COLOR_COLUMNS)
    stmt = select(
        t.account_id,
        t.health_color,
        t.purchase_intent,
        t.utilization,
        t.unknown_instances,
        t.health_score,
        t.tiers,
        t.flag_kinds,
        t.license_color,
        *(t[COLOR_COLUMNS[k]] for k in keys),
    ).where(t.month == month, t.fingerprint == fingerprint)
    keys.append(LICENSE_UTILIZATION)  # its colour has a column of its own
    out: dict[str, StoredRank] = {}
    # Read-only values shared by every account with the same colours, tiers or flags (a few hundred at most):
    # remembered rankings of a whole book stay small, and each JSON text is parsed once.
    colours: dict[tuple[str | None, ...], Mapping[str, str | None]] = {}
    tiers: dict[str | None, tuple[str, ...] | None] = {None: None}
    kinds: dict[str | None, frozenset[str] | None] = {None: None}
    parts: list[Sequence[str] | None] = [None] if account_ids is None else list(_chunks(sorted(set(account_ids))))
    for part in parts:
        for r in session.execute(stmt if part is None else stmt.where(t.account_id.in_(part))).all():
            combo = (*r[9:], r[8])
            colors = colours.get(combo)
            if colors is None:
                colors = colours[combo] = MappingProxyType(dict(zip(keys, combo, strict=True)))
            if r[6] not in tiers:
                tiers[r[6]] = tuple(json.loads(r[6]))
            if r[7] not in kinds:
                kinds[r[7]] = frozenset(json.loads(r[7]))
            out[r[0]] = StoredRank(r[1], bool(r[2]), r[3], r[4] or 0, r[5], colors, tiers[r[6]], kinds[r[7]])
    return out


def account_series(
    session: Session, account_id: str, months: Collection[date], fingerprint: str
) -> dict[date, StoredScore]:
    """One account's stored scores of `months` with `fingerprint`, by month (months not stored are absent)."""
    t = AccountScore.__table__.c
    stmt = select(t.month, t.summary, t.detail).where(
        t.account_id == account_id, t.month.in_(sorted(months)), t.fingerprint == fingerprint
    )
    return {m: from_json(account_id, m, summary, detail) for m, summary, detail in session.execute(stmt)}
