"""Stored scores: every account's figures for the trend window, computed once per sync and read by many views.

Written by `rescore` (inside the sync's transaction, a relabel's transaction, or `usagebot rescore`'s), so
readers see the whole set of one data state or the whole previous one, never half. Each row is the same
computed report `/usage` renders (`scoring.report.compute_report`), kept by the pure serializer
`scoring.stored.summarize`; each carries the fingerprint of the rules content it was computed with, and
`read_scores` returns only rows of the current fingerprint, so readers fall back to computing live rather
than show a figure of other rules.

Which rows: for every account, the `rules.trend_months` (12) months ending with the data's as-of month (from
the first month with data). Older months are computed live by whoever asks for them.
"""

from __future__ import annotations

import bisect
import gc
import json
import logging
import multiprocessing
import os
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias

from sqlalchemy import JSON, Connection, delete, func, select, text, true
from sqlalchemy.orm import Session

from db.models import Account, AccountScore
from db.queries.account_data import (
    AccountData,
    load_accounts_data,
    newest_version_in_month,
    newest_versions_by_month,
)
from db.queries.health import DataStamp, data_as_of, data_months, export_metric_columns
from db.queries.scores import read_scores
from scoring.adoption_rules import AdoptionRules
from scoring.model import UsageRow
from scoring.report import compute_report
from scoring.rules import Rules
from scoring.score_inputs import AccountInputs, shared_inputs
from scoring.stored import (
    StoredScore,
    columns,
    detail_json,
    rules_fingerprint,
    summarize,
    to_json,
    unknown_instance_count,
)
from scoring.trends import add_months
from workflows.report import adoption_rules_for, rules_for
from workflows.settings import Settings

__all__ = ["read_scores"]  # re-exported: readers find the stored scores here

log = logging.getLogger(__name__)

# Accounts loaded and scored per batch: bounds memory (23 months of rows each) while keeping queries few.
# With forked workers each holds a slice of one batch while this process loads the next: a 20,000-account
# SQLite sync's scoring step peaked at 495 MiB over all processes with 250 a batch, 365 MiB with 150, in the
# same time (196-201 s).
CHUNK = 150
# Instances not seen for this many months are history (as in the account report's 12-month window).
RECENT_MONTHS = 12


@dataclass(frozen=True)
class RescoreResult:
    accounts: int
    months: tuple[date, ...]
    rows: int  # account-months scored and written
    seconds: float
    fingerprint: str
    unchanged: int = 0  # account-months whose inputs had not changed (kept as stored)


@dataclass(frozen=True)
class ScoringContext:
    """Everything besides an account's own rows that its scores depend on (read once per rescore)."""

    rules: Rules
    adoption: AdoptionRules
    fingerprint: str
    exported: frozenset[str] | None
    newest: dict[date, str | None]

    def shared(self, month: date) -> bytes:
        """What every account's score of `month` shares besides its own data (see `scoring.score_inputs`)."""
        return shared_inputs(self.fingerprint, self.newest.get(month), self.exported)

    @classmethod
    def load(cls, session: Session, months: Collection[date], rules: Rules | str | None = None) -> ScoringContext:
        rules = rules_for(rules)
        adoption = adoption_rules_for(None)
        return cls(
            rules=rules,
            adoption=adoption,
            fingerprint=rules_fingerprint(rules, adoption),
            exported=export_metric_columns(session),
            newest=newest_versions_by_month(session, months),
        )


@dataclass(frozen=True)
class ScoreBasis:
    """What every account's stored scores share: the stored months and each month's shared inputs (rules,
    the month's newest version, the export's columns). While it stays the same, only an account whose own
    rows changed can score differently."""

    months: tuple[date, ...]
    shared: tuple[bytes, ...]

    @classmethod
    def read(cls, session: Session | Connection, rules: Rules | str | None = None) -> ScoreBasis:
        if isinstance(session, Connection):
            with Session(bind=session) as s:
                return cls.read(s, rules)
        rules = rules_for(rules)
        months = stored_window(session, rules)
        ctx = ScoringContext.load(session, months, rules)
        return cls(months, tuple(ctx.shared(m) for m in months))


def current_fingerprint(rules: Rules | str | None = None) -> str:
    """The fingerprint rows computed now would carry."""
    return rules_fingerprint(rules_for(rules), adoption_rules_for(None))


def stored_window(session: Session, rules: Rules) -> tuple[date, ...]:
    """The months stored for every account: the trend window ending with the as-of month, within the data."""
    as_of = data_as_of(session)
    span = data_months(session)
    if as_of is None or span is None:
        return ()
    as_of = as_of.replace(day=1)
    first = max(span[0].replace(day=1), add_months(as_of, -(rules.trend_months - 1)))
    out: list[date] = []
    m = first
    while m <= as_of:
        out.append(m)
        m = add_months(m, 1)
    return tuple(out)


def score_month(
    data: AccountData, month: date, ctx: ScoringContext, rows: Sequence[UsageRow] | None = None
) -> StoredScore:
    """One account-month's stored figures: `compute_report` on the month's trend window, then `summarize`.

    `rows` are the rows of the trend window ending with `month` (default: `data.rows`, already that window).
    """
    window_rows = data.rows if rows is None else rows
    report = compute_report(
        data.account,
        data.subscriptions,
        data.instances,
        window_rows,
        month,
        ctx.rules,
        as_of=None,
        newest_version=ctx.newest.get(month),
        adoption_rules=ctx.adoption,
        exported=ctx.exported,
    )
    unknown = unknown_instance_count(data.instances, window_rows, month, RECENT_MONTHS)
    return summarize(report, unknown_instances=unknown, rows=window_rows)


def _windows(
    data: AccountData, months: Sequence[date], ctx: ScoringContext
) -> Iterator[tuple[date, Sequence[UsageRow]]]:
    """Each month of `months` with the account's rows of its trend window (rows loaded once, sorted by month)."""
    keys = [r.snapshot_month for r in data.rows]
    for m in months:
        lo = bisect.bisect_left(keys, add_months(m, -(ctx.rules.trend_months - 1)))
        yield m, data.rows[lo : bisect.bisect_right(keys, m)]


def score_account_months(data: AccountData, months: Sequence[date], ctx: ScoringContext) -> Iterator[StoredScore]:
    """Every month of `months` for one account, from its rows loaded once (sorted by month)."""
    for m, rows in _windows(data, months, ctx):
        yield score_month(data, m, ctx, rows)


def _chunks(ids: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for i in range(0, len(ids), size):
        yield ids[i : i + size]


# (account id, month) -> the stored row's (fingerprint, inputs digest)
Known: TypeAlias = Mapping[tuple[str, date], tuple[str, str | None]]


def _values(
    data: Sequence[AccountData], months: Sequence[date], ctx: ScoringContext, known: Known | None = None
) -> list[dict[str, Any]]:
    """The account_scores rows of `data`'s accounts for `months`: all of them, or (with `known`, the stored
    rows' inputs digests) only those whose inputs changed. JSON columns come as their text (`json.dumps`, as
    the engine serializes them)."""
    out: list[dict[str, Any]] = []
    shared = {m: ctx.shared(m) for m in months}
    for d in data:
        inputs = AccountInputs(d.account, d.subscriptions, d.instances, d.rows)
        for m, rows in _windows(d, months, ctx):
            digest = inputs.digest(m, ctx.rules.trend_months, shared[m])
            if known is not None and known.get((d.account.id, m)) == (ctx.fingerprint, digest):
                continue
            sc = score_month(d, m, ctx, rows)
            out.append(
                {
                    "account_id": sc.account_id,
                    "month": sc.month,
                    "fingerprint": ctx.fingerprint,
                    "inputs": digest,
                    **columns(sc),
                    # As JSON text at once: a batch's values then hold one string per row, not the nested lists
                    # and dicts (the SQLite sync's memory peak), and forked workers hand back strings.
                    "summary": json.dumps(to_json(sc)),
                    "detail": json.dumps(detail_json(sc)),
                }
            )
    return out


# What forked scoring workers read: set just before the fork, so each child has its own copy.
_FORKED: tuple[Sequence[AccountData], Sequence[date], ScoringContext, Known | None] | None = None


def _score_slice(bounds: tuple[int, int]) -> list[dict[str, Any]]:
    assert _FORKED is not None
    data, months, ctx, known = _FORKED
    return _values(data[bounds[0] : bounds[1]], months, ctx, known)


# Accounts below which a rescore runs in one process: forking per batch would cost more than it saves.
FORK_FROM = 500
MAX_WORKERS = 4


def default_workers(accounts: int) -> int:
    """Processes that score a rescore of `accounts` when the caller does not say: one per core this process
    may run on (at most `MAX_WORKERS`), from `FORK_FROM` accounts.

    Scoring is pure Python; the database waits meanwhile. Measured on a quiet 2-core machine shared with the
    database, 2,000 accounts x 12 months: PostgreSQL 42.5 s in one process, 19.5-22.5 s in two; SQLite
    30.8 s and 21.2 s. The forked workers store the same rows (tested)."""
    if accounts < FORK_FROM:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores))


def _child_init() -> None:
    # A forked child shares the parent's sockets: collecting garbage could finalize a copied connection
    # wrapper and talk on the parent's connection. The child only scores, then exits without cleanup.
    gc.disable()


class _Batches:
    """Scores batch after batch; with workers, a batch is scored by forked processes while the next loads."""

    def __init__(self, session: Session, months: Sequence[date], ctx: ScoringContext, workers: int) -> None:
        self.session, self.months, self.ctx, self.workers = session, months, ctx, workers
        self.pending: tuple[Any, Any, bool] | None = None
        self.written = 0
        self.considered = 0

    def add(self, data: Sequence[AccountData], known: Known | None = None, *, fresh: bool = False) -> None:
        """Score `data`'s accounts; `fresh`: none of their rows is stored (they may be written by COPY)."""
        self.considered += len(data) * len(self.months)
        if self.workers <= 1:
            self._write(_values(data, self.months, self.ctx, known), fresh)
            return
        # The previous batch's workers finish first: two pools at once would double the processes holding
        # private memory, for little gain (writing a batch's rows is quick next to scoring it).
        self.flush()
        global _FORKED
        _FORKED = (data, self.months, self.ctx, known)
        gc.freeze()  # what exists now is never collected in the children (see `_child_init`)
        try:
            # Fork, not spawn: the children get the loaded rows without pickling them. They touch no database
            # connection (they only score) and end with the pool.
            pool = multiprocessing.get_context("fork").Pool(self.workers, initializer=_child_init)
        finally:
            _FORKED = None
            gc.unfreeze()
        step = -(-len(data) // self.workers)
        result = pool.map_async(_score_slice, [(i, i + step) for i in range(0, len(data), step)])
        self.pending = (pool, result, fresh)

    def flush(self) -> None:
        if self.pending is None:
            return
        pool, result, fresh = self.pending
        self.pending = None
        try:
            parts = result.get()
        finally:
            pool.close()
            pool.join()
        self._write([v for part in parts for v in part], fresh)

    def _write(self, values: list[dict[str, Any]], fresh: bool) -> None:
        if values:
            _write_rows(self.session, values, fresh=fresh)
            self.written += len(values)


_JSON_COLUMNS = frozenset(c.name for c in AccountScore.__table__.columns if isinstance(c.type, JSON))
_KEY = ("account_id", "month")


def _plain_value(column: str, value: Any, sqlite: bool) -> Any:
    # What the column's SQLAlchemy type would bind: JSON as its text (json.dumps, as the engine serializes it;
    # `_values` gives it as text already), dates as SQLite stores them (ISO text).
    if value is None:
        return None
    if column in _JSON_COLUMNS and not isinstance(value, str):
        return json.dumps(value)
    if sqlite and isinstance(value, date):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value.isoformat()
    return value


def _write_rows(session: Session, values: Sequence[Mapping[str, Any]], *, fresh: bool) -> None:
    """Write account_scores rows through the driver (SQLAlchemy's ORM bulk upsert cost more than the scoring's
    own overhead): on PostgreSQL a COPY when no row of these accounts is stored (`fresh`), else an upsert.

    The upsert replaces a row already there: a relabel's rescore and a sync's may overlap (PostgreSQL lets
    both delete the old rows; the second to commit must not fail on the first one's new rows). A COPY that
    meets such a row is undone to its savepoint and the rows upserted instead."""
    columns = list(values[0])
    raw = session.connection().connection.driver_connection
    assert raw is not None
    sqlite = session.get_bind().dialect.name != "postgresql"
    rows = [tuple(_plain_value(c, v[c], sqlite) for c in columns) for v in values]
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in _KEY)
    mark = "?" if sqlite else "%s"
    upsert = (
        f"INSERT INTO {AccountScore.__tablename__} ({names}) VALUES ({', '.join([mark] * len(columns))}) "
        f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}"
    )
    cur = raw.cursor()
    try:
        if sqlite or not fresh:
            cur.executemany(upsert, rows)
            return
        cur.execute("SAVEPOINT account_scores_copy")
        try:
            with cur.copy(f"COPY {AccountScore.__tablename__} ({names}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row(r)
        except Exception as exc:
            from psycopg.errors import UniqueViolation

            if not isinstance(exc, UniqueViolation):
                raise
            cur.execute("ROLLBACK TO SAVEPOINT account_scores_copy")
            cur.executemany(upsert, rows)
        cur.execute("RELEASE SAVEPOINT account_scores_copy")
    finally:
        cur.close()


def rescore(
    session: Session,
    account_ids: Collection[str] | None = None,
    rules: Rules | str | None = None,
    *,
    workers: int | None = None,
    changed_only: bool = False,
) -> RescoreResult:
    """Score and store the stored window of `account_ids` (None = every account), replacing their rows.

    Runs in the caller's transaction and does not commit: the caller's commit publishes the new rows and
    removes the old ones at once. With every account, rows of accounts that are gone are removed too.
    `workers`: processes scoring in parallel, forked (default: `default_workers`).
    `changed_only`: score only the account-months whose inputs changed since they were stored
    (`scoring.score_inputs`); the others are kept, and so are equal to what a full rescore writes. With
    `account_ids`, only those accounts are compared: the caller knows no other account's inputs changed.
    """
    t0 = time.perf_counter()
    rules = rules_for(rules)
    months = stored_window(session, rules)
    ctx = ScoringContext.load(session, months, rules)
    if changed_only and account_ids is None:
        # Rows that left the window, and rows of accounts that are gone; the rest are compared below.
        session.execute(delete(AccountScore).where(AccountScore.month.not_in(months) if months else true()))
        session.execute(delete(AccountScore).where(AccountScore.account_id.not_in(select(Account.id))))
        ids = sorted(session.scalars(select(Account.id)))
    elif account_ids is None:
        session.execute(delete(AccountScore))
        ids = sorted(session.scalars(select(Account.id)))
    else:
        ids = sorted(set(account_ids))
        if not changed_only:
            for part in _chunks(ids, 1000):
                session.execute(delete(AccountScore).where(AccountScore.account_id.in_(part)))
    batches = _Batches(session, months, ctx, default_workers(len(ids)) if workers is None else workers)
    if months:
        first = add_months(months[0], -(rules.trend_months - 1))
        columns = rules.columns() | ctx.adoption.columns()
        try:
            for part in _chunks(ids, CHUNK):
                data = load_accounts_data(
                    session,
                    first,
                    months[-1],
                    account_ids=part,
                    metric_columns=columns,
                    opt_out_value=rules.account.opt_out_value,
                )
                known: Known | None = None
                if changed_only:
                    a = AccountScore
                    stmt = select(a.account_id, a.month, a.fingerprint, a.inputs).where(a.account_id.in_(part))
                    known = {(acc, m): (fp, digest) for acc, m, fp, digest in session.execute(stmt)}
                batches.add([d for acc_id in part if (d := data.get(acc_id)) is not None], known, fresh=not known)
                del data, known  # before the next chunk loads: one chunk's rows in memory at a time
            batches.flush()
        finally:
            if batches.pending is not None:  # an error while a batch was being scored: stop its workers
                batches.pending[0].terminate()
    if account_ids is None and batches.written and session.get_bind().dialect.name == "postgresql":
        # As after a sync's load: the readers' plans (one account's series, a month's ranking) need current
        # statistics of the rows just written, whatever autovacuum does.
        session.execute(text("ANALYZE account_scores"))
    seconds = time.perf_counter() - t0
    unchanged = batches.considered - batches.written
    log.info(
        "rescored %d accounts x %d months: %d rows scored, %d unchanged, in %.1fs",
        len(ids), len(months), batches.written, unchanged, seconds,
    )  # fmt: skip
    return RescoreResult(len(ids), months, batches.written, seconds, ctx.fingerprint, unchanged)


def scores_current(session: Session, rules: Rules | str | None = None) -> bool:
    """Whether the stored scores are those of the current data state and rules: every row has the current
    fingerprint and the newest stored month is the as-of month (else a rescore is due)."""
    rules = rules_for(rules)
    fp = current_fingerprint(rules)
    stale = session.scalar(select(AccountScore.account_id).where(AccountScore.fingerprint != fp).limit(1))
    if stale is not None:
        return False
    months = stored_window(session, rules)
    if not months:
        return True
    newest = session.scalar(select(func.max(AccountScore.month)))
    return newest == months[-1]


def after_sync(
    conn: Connection, changed: bool, touched: Collection[str] | None = None, before: ScoreBasis | None = None
) -> RescoreResult | None:
    """The sync's scoring step, inside its transaction: score again what the load changed (or everything
    when the stored rows are not current: new rules, or none yet); a re-load that changed nothing does nothing.

    `touched`: the accounts whose rows the load wrote, and `before`: the basis read before the load. When the
    basis is unchanged, only those accounts are compared; otherwise every account is (a month's newest version,
    the export's columns and the as-of month are shared inputs, so one account's rows can change every
    other account's flags). Either way only account-months whose inputs changed are scored.
    """
    with Session(bind=conn) as session:
        current = scores_current(session)
        if not changed and current:
            return None
        if touched is not None and before is not None and current and ScoreBasis.read(session) == before:
            return rescore(session, touched, changed_only=True)
        return rescore(session, changed_only=True)


def rescore_if_stale(
    session: Session, rules: Rules | str | None = None, *, force: bool = False
) -> RescoreResult | None:
    """Rescore every account when the stored scores are not current (rules changed, none yet), or `force`."""
    if not force and scores_current(session, rules):
        return None
    return rescore(session, rules=rules, changed_only=not force)


def scheduled_rescore(settings: Settings, edge: object = None) -> None:
    """The clock's check: after a deploy that changed SCORING_RULES (or the rules files), rescore once."""
    from db.session import session_scope

    with session_scope(settings.database_url) as session:
        rescore_if_stale(session, settings.scoring_rules)


# Accounts computed live per batch of rows loaded (bounds memory when no stored scores answer).
LIVE_BATCH = 1000


def score_live(
    session: Session,
    account_ids: Collection[str],
    month: date,
    rules: Rules,
    adoption: AdoptionRules | None = None,
    stamp: DataStamp | None = None,
) -> dict[str, StoredScore]:
    """The stored figures of `month`, computed now from raw rows (for accounts without a current stored row)."""
    adoption = adoption or adoption_rules_for(None)
    ids = sorted(set(account_ids))
    newest = newest_version_in_month(session, month, stamp)
    ctx = ScoringContext(
        rules, adoption, rules_fingerprint(rules, adoption), export_metric_columns(session), {month: newest}
    )
    out: dict[str, StoredScore] = {}
    # In batches: twelve months of rows of every account at once would not fit in a web worker's memory.
    for i in range(0, len(ids), LIVE_BATCH):
        data = load_accounts_data(
            session,
            add_months(month, -(rules.trend_months - 1)),
            month,
            account_ids=ids[i : i + LIVE_BATCH],
            metric_columns=rules.columns() | adoption.columns(),
            opt_out_value=rules.account.opt_out_value,
        )
        out.update((acc_id, score_month(d, month, ctx)) for acc_id, d in data.items())
    return out


def scores_for(
    session: Session,
    month: date,
    account_ids: Collection[str] | None,
    rules: Rules,
    stamp: DataStamp | None = None,
    *,
    detail: bool = False,
) -> dict[str, StoredScore]:
    """`month`'s figures of `account_ids` (None = every account): the stored ones, the missing computed live.

    Without `detail`, stored ones come without primaries, pings and subscriptions (`read_scores`)."""
    adoption = adoption_rules_for(None)
    got = read_scores(session, month, account_ids, rules_fingerprint(rules, adoption), detail=detail)
    wanted = set(session.scalars(select(Account.id))) if account_ids is None else set(account_ids)
    missing = wanted - set(got)
    if missing:
        got.update(score_live(session, missing, month, rules, adoption, stamp))
    return got
