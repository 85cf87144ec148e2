"""One query batch with everything an account report needs: one query per table, no per-row queries.

Rows come back as the scoring engine's frozen input dataclasses, so `scoring/` never sees the ORM.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from rapidfuzz import fuzz, process
from sqlalchemy import ColumnElement, Select, Text, cast, func, select
from sqlalchemy.orm import Session

from db.models import SCORED_METRIC_COLUMNS, Account, Instance, Subscription, UsageMonthly
from db.names import name_key
from db.queries.health import DataStamp, data_stamp
from db.queries.metric_layouts import ExtraMetricsReader, layout_names
from scoring.model import AccountInfo, InstanceInfo, SubscriptionInfo, UsageRow

OPT_OUT = "Opt-Out"  # included_in_health_measures_str of rows that must not count (other modules import this)


def is_opt_out(value: str | None, marker: str = OPT_OUT) -> bool:
    """The row is marked Opt-Out (compared ignoring case and surrounding spaces)."""
    return (value or "").strip().casefold() == marker.casefold()


@dataclass
class AccountData:
    """One account's scoring inputs: the account, all its subscriptions and instances, and usage rows."""

    account: AccountInfo
    subscriptions: list[SubscriptionInfo] = field(default_factory=list)
    instances: dict[int, InstanceInfo] = field(default_factory=dict)
    rows: list[UsageRow] = field(default_factory=list)
    last_seen: dict[int, date | None] = field(default_factory=dict)  # instance id -> last month with a row


def _utc(ts: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def normalise_emails(emails: Iterable[str]) -> list[str]:
    return sorted({e.strip().lower() for e in emails if e and e.strip()})


def account_ids_for(emails: Collection[str] | None) -> Select:
    """A subquery of account ids: those whose TAM is one of `emails` (any case), or every account (None)."""
    stmt = select(Account.id)
    if emails is not None:
        stmt = stmt.where(func.lower(Account.tam_email).in_(normalise_emails(emails)))
    return stmt


def load_account_infos(
    session: Session, *, account_ids: Collection[str] | None = None, emails: Collection[str] | None = None
) -> dict[str, AccountInfo]:
    """The accounts (no rows): those of `account_ids`, else those whose TAM is one of `emails`, else all."""
    out: dict[str, AccountInfo] = {}
    for part in _id_chunks(account_ids):
        stmt = _account_select(part, emails)
        out.update((r[0], AccountInfo(*r)) for r in session.connection().execute(stmt).all())
    return out


def _id_chunks(account_ids: Collection[str] | None) -> list[list[str] | None]:
    if account_ids is None:
        return [None]
    ids = sorted(set(account_ids))
    return [ids[i : i + MAX_ID_LIST] for i in range(0, len(ids), MAX_ID_LIST)]


def _account_select(account_ids: Collection[str] | None, emails: Collection[str] | None) -> Select:
    a = Account.__table__.c
    stmt = select(a.id, a.name, a.customer_since_date, a.tam_name, a.tam_email, a.sales_segment)
    if account_ids is not None:
        return stmt.where(a.id.in_(list(account_ids)))
    if emails is not None:
        return stmt.where(func.lower(a.tam_email).in_(normalise_emails(emails)))
    return stmt


MAX_ID_LIST = 5000  # more accounts than this are selected by subquery instead of a literal id list


def load_accounts_data(
    session: Session,
    first_month: date,
    last_month: date,
    *,
    account_ids: Collection[str] | None = None,
    emails: Collection[str] | None = None,
    metric_columns: Iterable[str] = SCORED_METRIC_COLUMNS,
    opt_out_value: str = OPT_OUT,
) -> dict[str, AccountData]:
    """Scoring inputs for many accounts at once: one query per table, whatever the number of accounts.

    The accounts are `account_ids`, else those whose TAM is one of `emails` (any case), else all of them.
    Usage rows are those from `first_month` to `last_month`. Core columns (plain tuples, no ORM identity
    map): this runs on every `/usage` answer and every Home tab.
    """
    conn = session.connection()
    out = {r[0]: AccountData(AccountInfo(*r)) for r in conn.execute(_account_select(account_ids, emails))}
    if not out:
        return out
    everyone = account_ids is None and emails is None
    # The other tables by the ids just read: a literal list lets the database use its account_id indexes
    # (a subquery here made PostgreSQL hash-join the whole usage table). Every account: no filter at all.
    ids: Select | list[str] = sorted(out) if len(out) <= MAX_ID_LIST else account_ids_for(emails)

    def scoped(stmt: Select, column: Any) -> Select:
        return stmt if everyone else stmt.where(column.in_(ids))

    sc = Subscription.__table__.c
    sub_stmt = select(
        sc.account_id, sc.id, sc.name, sc.product_tier_name, sc.delivery_type, sc.start_date, sc.end_date,
        sc.licensed_seats, sc.arr,
    ).order_by(sc.start_date, sc.id)  # fmt: skip
    for r in conn.execute(scoped(sub_stmt, sc.account_id)):
        acc = out.get(r[0])
        if acc is not None:
            acc.subscriptions.append(SubscriptionInfo(*r[1:]))

    ic = Instance.__table__.c
    inst_stmt = select(
        ic.account_id, ic.id, ic.identity, ic.delivery_type, ic.deployment_type, ic.label, ic.label_source,
        ic.hostname, ic.installation_id, ic.namespace_id, ic.namespace_name, ic.last_ping_at, ic.last_version,
        ic.last_seen_month,
    )  # fmt: skip
    labels: dict[int, str] = {}
    for r in conn.execute(scoped(inst_stmt, ic.account_id)):
        acc = out.get(r[0])
        if acc is None:
            continue
        acc.instances[r[1]] = InstanceInfo(
            id=r[1],
            identity=r[2],
            delivery_type=r[3],
            deployment_type=r[4],
            label=r[5],
            label_source=r[6],
            hostname=r[7],
            installation_id=r[8],
            namespace_id=r[9],
            namespace_name=r[10],
            last_ping_at=_utc(r[11]),
            last_version=r[12],
            last_seen_month=r[13],
        )
        acc.last_seen[r[1]] = r[13]
        labels[r[1]] = r[5]

    wanted = set(metric_columns)
    typed = tuple(c for c in SCORED_METRIC_COLUMNS if c in wanted)
    extra = sorted(wanted - set(SCORED_METRIC_COLUMNS) - {"billable_user_count", "license_user_count"})
    t = UsageMonthly.__table__.c
    cols: list[ColumnElement[Any]] = [
        t.account_id, t.snapshot_month, t.instance_id, t.subscription_id, t.delivery_type, t.deployment_type,
        t.ping_created_at, t.billable_user_count, t.license_user_count, t.included_in_health, t.cleaned_version,
        t.license_mapped, *(t[c] for c in typed),
    ]  # fmt: skip
    read_extra: ExtraMetricsReader | None = None
    if extra:
        # Read by custom rules files and adoption: metrics outside the typed columns. As text, so that only
        # the values asked for are converted (`ExtraMetricsReader`).
        cols += [cast(t.extra_metrics, Text), t.metric_layout_id]
        read_extra = ExtraMetricsReader(layout_names(conn), extra)
    n_fixed = 12
    end_typed = n_fixed + len(typed)
    usage_stmt = select(*cols).where(t.snapshot_month >= first_month, t.snapshot_month <= last_month)
    usage_stmt = scoped(usage_stmt, t.account_id).order_by(t.snapshot_month, t.instance_id, t.subscription_id)
    for r in conn.execute(usage_stmt).all():  # one fetch, not a driver call per row
        acc = out.get(r[0])
        if acc is None:
            continue
        metrics: dict[str, float | None] = dict(zip(typed, r[n_fixed:end_typed], strict=True))
        if read_extra is not None:
            metrics.update(read_extra(r[-2], r[-1]))
        acc.rows.append(
            UsageRow(
                r[1],  # snapshot_month
                r[2],  # instance_id
                r[3],  # subscription_id
                r[4],  # delivery_type
                r[5],  # deployment_type
                _utc(r[6]),  # ping_created_at
                r[7],  # billable_user_count
                r[8],  # license_user_count
                labels.get(r[2], "Unknown"),  # the label now, after any relabelling
                is_opt_out(r[9], opt_out_value),
                metrics,
                r[10],  # cleaned_version
                r[11],  # license_mapped
            )
        )
    return out


def load_account_data(
    session: Session,
    account_id: str,
    first_month: date,
    last_month: date,
    metric_columns: Iterable[str] = SCORED_METRIC_COLUMNS,
    opt_out_value: str = OPT_OUT,
) -> AccountData | None:
    """The account, all its subscriptions and instances, and its usage rows from first_month to last_month."""
    found = load_accounts_data(
        session,
        first_month,
        last_month,
        account_ids=[account_id],
        metric_columns=metric_columns,
        opt_out_value=opt_out_value,
    )
    return found.get(account_id)


_NEWEST: dict[tuple[str, DataStamp], str | None] = {}


def newest_version_seen(session: Session, stamp: DataStamp | None = None) -> str | None:
    """The newest GitLab version seen anywhere: the distinct per-instance versions (a small set), parsed.

    It scans every instance, so it is computed once per process and data stamp (a sync or new instances).
    """

    stamp = stamp or data_stamp(session)
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), stamp)
    if key in _NEWEST:
        return _NEWEST[key]
    best = _newest_seen_uncached(session)
    if len(_NEWEST) > 64:
        _NEWEST.clear()
    _NEWEST[key] = best
    return best


def newest_versions_by_month(
    session: Session, months: Collection[date], fallback: Callable[[], str | None] | None = None
) -> dict[date, str | None]:
    """Each month's newest GitLab version (compared as major, minor, patch), uncached, in one query.

    A month where no row carries a version gets `fallback()` (default: the newest version seen anywhere,
    read now, not from the per-stamp cache: the sync's scoring step reads inside its own transaction).
    """
    from scoring.flags import newest_version

    by_month: dict[date, list[str]] = {m: [] for m in months}
    if by_month:
        stmt = (
            select(UsageMonthly.snapshot_month, UsageMonthly.cleaned_version)
            .where(UsageMonthly.snapshot_month.in_(sorted(by_month)), UsageMonthly.cleaned_version.is_not(None))
            .distinct()
        )
        for m, v in session.execute(stmt):
            by_month[m].append(v)
    out: dict[date, str | None] = {}
    seen: list[str | None] = []
    for m, versions in by_month.items():
        best = newest_version(versions)
        if best is None:
            if not seen:
                seen.append(fallback() if fallback is not None else _newest_seen_uncached(session))
            best = seen[0]
        out[m] = best
    return out


def _newest_seen_uncached(session: Session) -> str | None:
    from scoring.flags import newest_version

    best = newest_version(
        session.scalars(select(Instance.last_version).where(Instance.last_version.is_not(None)).distinct())
    )
    if best is None:
        best = newest_version(
            session.scalars(
                select(UsageMonthly.cleaned_version).where(UsageMonthly.cleaned_version.is_not(None)).distinct()
            )
        )
    return best


_NEWEST_IN_MONTH: dict[tuple[str, DataStamp, date], str | None] = {}


def forget_cached_versions() -> None:
    """Empty the per-stamp version caches: for a database emptied and loaded again from scratch (its sync
    runs numbered from 1 again, so a stamp can repeat with other data), as the tests do."""
    _NEWEST.clear()
    _NEWEST_IN_MONTH.clear()


def newest_version_in_month(session: Session, month: date, stamp: DataStamp | None = None) -> str | None:
    """The newest GitLab version any instance reported in `month` (compared as major, minor, patch).

    Falls back to `newest_version_seen` when no row of the month carries a version. Cached per data stamp.
    """

    stamp = stamp or data_stamp(session)
    key = (session.get_bind().engine.url.render_as_string(hide_password=True), stamp, month)
    if key in _NEWEST_IN_MONTH:
        return _NEWEST_IN_MONTH[key]
    best = newest_versions_by_month(session, [month], fallback=lambda: newest_version_seen(session, stamp))[month]
    if len(_NEWEST_IN_MONTH) > 256:
        _NEWEST_IN_MONTH.clear()
    _NEWEST_IN_MONTH[key] = best
    return best


def latest_account_month(session: Session, account_id: str) -> date | None:
    from sqlalchemy import func

    return session.scalar(select(func.max(UsageMonthly.snapshot_month)).where(UsageMonthly.account_id == account_id))


def find_accounts_exact(session: Session, text: str, limit: int = 6) -> list[tuple[str, str]]:
    """(id, name) of the account whose id is `text`, else of every account whose name is `text` ignoring
    case, accents and punctuation (more than one when two accounts share a name)."""
    text = (text or "").strip()[:300]
    if not text:
        return []
    hit = session.execute(select(Account.id, Account.name).where(Account.id == text)).first()
    if hit is not None:
        return [(hit[0], hit[1])]
    key = name_key(text)
    if not key:
        return []
    rows = session.execute(
        select(Account.id, Account.name).where(Account.name_key == key).order_by(Account.id).limit(limit)
    ).all()
    return [(r[0], r[1]) for r in rows]


def find_account_exact(session: Session, text: str) -> tuple[str, str] | None:
    """The one account `text` names exactly (id, or name when only one account has it)."""
    hits = find_accounts_exact(session, text, limit=2)
    return hits[0] if len(hits) == 1 else None


def nearest_account_names(session: Session, text: str, limit: int = 5) -> list[str]:
    """Names closest to `text` (for 'did you mean'), best first."""
    key = name_key((text or "")[:300])
    pairs = session.execute(select(Account.name_key, Account.name)).all()
    if not pairs or not key:
        return [p[1] for p in pairs[:limit]]
    choices = {i: p[0] for i, p in enumerate(pairs)}
    best = process.extract(key, choices, scorer=fuzz.WRatio, limit=limit)
    return [pairs[i][1] for _, _, i in best]
