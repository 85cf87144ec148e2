"""Composing the monthly digest: per TAM, their accounts' Unknown instances and the flags needing them.

Two set-based queries (Unknown instances with their accounts; unmapped licenses of the data's latest
month, by the account report's rule), whatever the number of accounts. Plain data out: delivery and
rendering never query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, overload

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Account, Instance, UsageMonthly
from db.queries.health import data_as_of
from scoring.flags import LICENSE_UNMAPPED_ADVICE, unmapped_license_instances
from scoring.model import instance_display_name

OBSOLETE_AFTER_DAYS = 90


# ----------------------------------------------------------------------------- composed data (plain)
@dataclass(frozen=True)
class DigestInstance:
    id: int
    name: str
    kind: str  # "self-managed" | "namespace"
    version: str | None
    first_seen: date | None
    last_ping: datetime | None
    billable_users: int | None
    label_version: int
    probably_obsolete: bool
    silent_days: int | None


@dataclass
class DigestAccount:
    id: str
    name: str
    instances: list[DigestInstance] = field(default_factory=list)


@dataclass(frozen=True)
class DigestFlag:
    account_id: str
    account_name: str
    instance_name: str
    kind: str
    message: str


@dataclass
class TamDigest:
    tam_email: str  # lower-cased
    tam_name: str | None
    month: str
    accounts: list[DigestAccount] = field(default_factory=list)
    flags: list[DigestFlag] = field(default_factory=list)

    @property
    def instance_count(self) -> int:
        return sum(len(a.instances) for a in self.accounts)


@dataclass
class Composition:
    month: str
    digests: list[TamDigest]
    # Accounts with Unknown instances but no TAM: (account id, name, Unknown instances).
    accounts_without_tam: list[tuple[str, str, int]]


def month_key(d: date | datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def parse_month(text: str) -> str:
    """'YYYY-MM' validated; ValueError with a clear message otherwise."""
    try:
        parsed = datetime.strptime(text.strip(), "%Y-%m")
    except ValueError:
        raise ValueError(f"{text!r} is not a month; expected YYYY-MM such as 2026-11") from None
    return month_key(parsed)


def compose(session: Session, month: str, *, now: datetime | None = None, tam_email: str | None = None) -> Composition:
    """Every TAM's digest: their accounts' Unknown instances, grouped by account, plus flags needing them."""
    now = now or datetime.now(UTC)
    email_key = func.lower(func.trim(Account.tam_email))
    query = (
        select(
            Instance.id,
            Instance.hostname,
            Instance.namespace_name,
            Instance.namespace_id,
            Instance.identity,
            Instance.delivery_type,
            Instance.last_version,
            Instance.first_seen_month,
            Instance.creation_date,
            Instance.last_ping_at,
            Instance.last_billable_users,
            Instance.label_version,
            Account.id,
            Account.name,
            Account.tam_email,
            Account.tam_name,
        )
        .join(Account, Account.id == Instance.account_id)
        .where(Instance.label == "Unknown")
    )
    if tam_email:
        query = query.where(email_key == tam_email.strip().lower())
    by_tam: dict[str, TamDigest] = {}
    accounts: dict[tuple[str, str], DigestAccount] = {}
    no_tam: dict[str, list[Any]] = {}
    for row in session.execute(query):
        (iid, host, ns_name, ns_id, identity, _delivery, version, first_seen, created, last_ping, billable, lv) = row[
            :12
        ]
        account_id, account_name, raw_email, tam_name = row[12:]
        email = (raw_email or "").strip().lower()
        if not email:
            entry = no_tam.setdefault(account_id, [account_name, 0])
            entry[1] += 1
            continue
        digest = by_tam.get(email)
        if digest is None:
            digest = by_tam[email] = TamDigest(tam_email=email, tam_name=tam_name, month=month)
        account = accounts.get((email, account_id))
        if account is None:
            account = accounts[(email, account_id)] = DigestAccount(account_id, account_name)
            digest.accounts.append(account)
        ping = as_utc(last_ping)
        silent = (now - ping).days if ping is not None else None
        name = instance_display_name(host, ns_name, ns_id, identity)
        account.instances.append(
            DigestInstance(
                id=iid,
                name=name,
                kind="namespace" if ns_id and not host else "self-managed",
                version=version,
                first_seen=first_seen or created,
                last_ping=ping,
                billable_users=billable,
                label_version=lv,
                probably_obsolete=silent is not None and silent >= OBSOLETE_AFTER_DAYS,
                silent_days=silent,
            )
        )
    for digest in by_tam.values():
        digest.accounts.sort(key=lambda a: a.name.lower())
        for account in digest.accounts:
            account.instances.sort(key=lambda i: (i.probably_obsolete, i.name.lower()))
    _add_unmapped_license_flags(session, by_tam, tam_email)
    return Composition(
        month=month,
        digests=sorted(by_tam.values(), key=lambda d: d.tam_email),
        accounts_without_tam=sorted(((k, v[0], v[1]) for k, v in no_tam.items()), key=lambda t: t[1].lower()),
    )


def _add_unmapped_license_flags(session: Session, by_tam: dict[str, TamDigest], tam_email: str | None) -> None:
    """The account report's unmapped-license rule (`scoring.flags.unmapped_license_instances`) on the data's
    latest month, in one query: the SQL only narrows to that month's unmapped rows; the rule decides."""
    month = data_as_of(session)
    if not by_tam or month is None:
        return
    query = (
        select(
            UsageMonthly.instance_id,
            UsageMonthly.snapshot_month,
            UsageMonthly.license_mapped,
            func.lower(func.trim(Account.tam_email)).label("email"),
            Account.id.label("account_id"),
            Account.name.label("account_name"),
            Instance.hostname,
            Instance.namespace_name,
            Instance.namespace_id,
            Instance.identity,
        )
        .join(Instance, Instance.id == UsageMonthly.instance_id)
        .join(Account, Account.id == Instance.account_id)
        .where(UsageMonthly.snapshot_month == month, UsageMonthly.license_mapped.is_(False))
    )
    if tam_email:
        query = query.where(func.lower(func.trim(Account.tam_email)) == tam_email.strip().lower())
    rows = session.execute(query).all()
    flagged = set(unmapped_license_instances(rows, month))
    seen: set[int] = set()
    for row in rows:
        if row.instance_id not in flagged or row.instance_id in seen:
            continue
        seen.add(row.instance_id)
        email, account_id, account_name = row.email, row.account_id, row.account_name
        host, ns_name, ns_id, identity = row.hostname, row.namespace_name, row.namespace_id, row.identity
        digest = by_tam.get(email)
        if digest is None:  # nothing Unknown for this TAM: no DM, so no flags either
            continue
        name = instance_display_name(host, ns_name, ns_id, identity)
        digest.flags.append(
            DigestFlag(
                account_id,
                account_name,
                name,
                "license_unmapped",
                f"the license is not linked to a subscription: {LICENSE_UNMAPPED_ADVICE}",
            )
        )
    for digest in by_tam.values():
        digest.flags.sort(key=lambda f: (f.account_name.lower(), f.instance_name))


@overload
def as_utc(value: datetime) -> datetime: ...


@overload
def as_utc(value: None) -> None: ...


def as_utc(value: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything stored is UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def current_month(timezone: str) -> str:
    from zoneinfo import ZoneInfo

    return month_key(datetime.now(ZoneInfo(timezone)))
