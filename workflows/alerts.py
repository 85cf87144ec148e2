"""Proactive alerts after a sync: tell each TAM, in one DM, which of their accounts got worse.

`compute_alerts` compares the new as-of month with the previous one over every account: the stored scores
of both months (written by the sync, `workflows.scores`; a month not stored is computed live with the same
code), so no account is scored again here. It returns an `Alert`
when, for an account that is not muted:

* a use-case colour (SCM, CI, CD, Security, Engagement) or the product-health (overall) colour drops:
  Green -> Yellow or Red, Yellow -> Red. "No data" and "N/A" on either side never count as a drop;
* license utilization falls by 10 percentage points or more month over month;
* license utilization is below 50% a month or more after onboarding. Reading of docs/scoring.md: the age is
  the account's age used for the license band, i.e. calendar months from `customer_since_date` (else
  the earliest subscription start) to the snapshot month, days ignored (DATEDIFF(month, ...)). "Low"
  means age >= 1 and utilization < 50% in that month. The alert fires when the account *enters* that
  state (low in the new month, not low in the previous one: e.g. the first month after onboarding,
  or a fall below 50%), so a TAM is told once rather than every month while it stays low;
* a Production instance stops reporting: it had a ping in the previous month and none in the new one
  (only for accounts with a subscription active in the new month, so churned accounts stay quiet).

Utilization is the account's license utilization measure (ARR-weighted billable users / license
count of the primary Production instances, docs/scoring.md, account step 5), the value `/usage acme utilization` shows.

`send_alerts` records each alert before sending (unique on account, kind, measure, month, so a re-run
of a sync repeats nothing), claims a TAM's pending records with a token (two senders never post the
same record), sends ONE message per TAM tagged with the token (Slack message metadata), and marks the
records sent. A send that fails leaves the records pending for the next run; a sender that died
between posting and recording is detected by the tag on the next run, so nothing is sent twice.
Slack is reached through the small `AlertSender` protocol, so this
module holds no Slack types.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, case, not_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import AccountScore, AlertRecord, Instance
from db.queries.account_data import load_account_infos
from db.queries.health import data_as_of, data_stamp, month_has_data
from db.queries.quality import months_with_data, muted_accounts
from db.session import rows_changed
from scoring.bands import fmt_near
from scoring.model import GREEN, RED, YELLOW, AccountInfo, instance_display_name
from scoring.rules import Rules
from scoring.stored import COLOR_COLUMNS as STORED_COLOR_COLUMNS
from scoring.stored import StoredScore
from scoring.trends import add_months
from workflows.report import rules_for
from workflows.scores import current_fingerprint, scores_for
from workflows.wording import plural

log = logging.getLogger("usagebot.alerts")

# Colours a drop is measured on; anything else ("No data", "N/A") never counts.
_RANK = {RED: 0, YELLOW: 1, GREEN: 2}
# Use cases and overall health, in display order; the license measure has its own two rules.
COLOR_MEASURES: tuple[str, ...] = ("overall", "scm", "ci", "cd", "security", "user_engagement")
MEASURE_LABELS = {
    "overall": "Product health",
    "scm": "SCM",
    "ci": "CI",
    "cd": "CD",
    "security": "Security",
    "user_engagement": "Engagement",
    "license_utilization": "License utilization",
}
UTILIZATION_DROP = 0.10  # 10 percentage points
LOW_UTILIZATION = 0.50
LOW_AFTER_MONTHS = 1
PRODUCTION = "Production"

KINDS = ("color_drop", "utilization_drop", "low_utilization", "stopped_reporting")
# Which `/usage` view explains each kind.
VIEW_OF_KIND = {
    "color_drop": "health",
    "utilization_drop": "utilization",
    "low_utilization": "utilization",
    "stopped_reporting": "instances",
}


@dataclass(frozen=True)
class Alert:
    account_id: str
    account_name: str
    tam_email: str | None
    tam_name: str | None
    kind: str  # one of KINDS
    measure: str  # measure key, "overall", or (stopped_reporting) the instance id
    month: date
    previous_month: date
    message: str  # one line a TAM understands
    view: str  # the `/usage` view that explains it: health | utilization | instances
    before: Any = None
    after: Any = None

    @property
    def key(self) -> tuple[str, str, str, date]:
        return (self.account_id, self.kind, self.measure, self.month)

    @property
    def command(self) -> str:
        return f"/usage {self.account_name} {self.view}"


def _ym(d: date) -> str:
    return d.strftime("%Y-%m")


def _pct(v: float) -> str:
    # Never rounded across the 50% line the low-utilization alert is about (49.6% is not "50%").
    return fmt_near(v, "percent", [LOW_UTILIZATION])


def _low(score: StoredScore) -> bool:
    value = score.measures["license_utilization"].value
    return (
        value is not None
        and score.age_months is not None
        and score.age_months >= LOW_AFTER_MONTHS
        and (value < LOW_UTILIZATION)
    )


def account_alerts(
    account: AccountInfo,
    new: StoredScore,
    old: StoredScore,
    span: Sequence[StoredScore],
    instances: Mapping[int, tuple[str, str]],
) -> list[Alert]:
    """Alerts of one account (pure): its figures of the new and the previous month (stored scores), `span`
    the figures of every month from the earlier to the later of the two, and `instances` the (label, name)
    of its instances that pinged in the previous month."""
    acc = account
    month, previous = new.month, old.month
    out: list[Alert] = []

    def add(kind: str, measure: str, message: str, before: Any, after: Any) -> None:
        out.append(
            Alert(
                account_id=acc.id,
                account_name=acc.name,
                tam_email=(acc.tam_email or "").strip().lower() or None,
                tam_name=acc.tam_name,
                kind=kind,
                measure=measure,
                month=month,
                previous_month=previous,
                message=message,
                view=VIEW_OF_KIND[kind],
                before=before,
                after=after,
            )
        )

    span_text = f"{_ym(previous)} → {_ym(month)}"
    for key in COLOR_MEASURES:
        was = old.overall_color if key == "overall" else old.measures[key].color
        now = new.overall_color if key == "overall" else new.measures[key].color
        if was in _RANK and now in _RANK and _RANK[now] < _RANK[was]:
            add("color_drop", key, f"{MEASURE_LABELS[key]} dropped from {was} to {now} ({span_text})", was, now)

    u_old = old.measures["license_utilization"].value
    u_new = new.measures["license_utilization"].value
    if u_old is not None and u_new is not None and u_old - u_new >= UTILIZATION_DROP - 1e-9:
        points = (u_old - u_new) * 100
        add(
            "utilization_drop",
            "license_utilization",
            f"License utilization fell {points:.0f} points: {_pct(u_old)} → {_pct(u_new)} ({span_text})",
            u_old,
            u_new,
        )
    if _low(new) and not _low(old) and u_new is not None:
        add(
            "low_utilization",
            "license_utilization",
            f"License utilization is {_pct(u_new)}, below {_pct(LOW_UTILIZATION)}, "
            f"{plural(new.age_months or 0, 'month')} after onboarding ({_ym(month)})",
            u_old,
            u_new,
        )

    if new.active:
        for inst_id in stopped_reporting(new, old):
            label, name = instances.get(inst_id, ("", ""))
            if label != PRODUCTION:
                continue
            last = max(
                (p.last_ping for sc in span for p in sc.pings if p.instance_id == inst_id and p.last_ping is not None),
                default=None,
            )
            when = f"last ping {last:%Y-%m-%d}" if last else "last ping unknown"
            add(
                "stopped_reporting",
                str(inst_id),
                f"Production instance {name} stopped reporting: {when}, none in {_ym(month)}",
                _ym(previous),
                None,
            )
    return out


def stopped_reporting(new: StoredScore, old: StoredScore) -> list[int]:
    """Instances that pinged in the previous month and not in the new one (any label), by id."""
    before = {p.instance_id for p in old.pings if p.pinged}
    now = {p.instance_id for p in new.pings if p.pinged}
    return sorted(before - now)


def resolve_months(session: Session, month: date | None, previous: date | None) -> tuple[date, date] | None:
    """(new, previous) months: given, else the data's as-of month and the month before it.

    A month given that has no usage data is refused (`MonthOutsideData`, naming the months that have data).
    """
    from workflows.months import check_month

    if month is not None:
        month = check_month(session, month)
    if previous is not None:
        previous = check_month(session, previous)
    if month is None:
        month = data_as_of(session)
        if month is None:
            found = months_with_data(session, 1)
            month = found[0] if found else None
    if month is None:
        return None
    month = month.replace(day=1)
    previous = (previous or add_months(month, -1)).replace(day=1)
    return month, previous


def compute_alerts(
    session: Session,
    month: date,
    previous_month: date,
    rules: Rules | str | None = None,
    *,
    include_muted: bool = False,
) -> list[Alert]:
    """Every alert between `previous_month` and `month`, grouped by account (muted accounts skipped).

    Compares the stored scores of the two months (`workflows.scores`); a month not stored is computed live.
    """
    rules = rules_for(rules)
    month, previous_month = month.replace(day=1), previous_month.replace(day=1)
    if not (month_has_data(session, month) and month_has_data(session, previous_month)):
        return []  # never compare with a month that has no data: every instance would look silent
    months: list[date] = []
    m = min(previous_month, month)
    while m <= max(previous_month, month):
        months.append(m)
        m = add_months(m, 1)
    infos = load_account_infos(session)
    stamp = data_stamp(session)
    stored, moved = _moved(session, month, previous_month, current_fingerprint(rules))
    # An account stored for both months whose figures did not move as an alert needs raises none: only the
    # others are read in full (or computed live, when a month is not stored).
    candidates = [a for a in infos if a in moved or a not in stored]
    by_month = {m: scores_for(session, m, candidates, rules, stamp, detail=True) for m in months}
    muted = set() if include_muted else muted_accounts(session)
    wanted: list[str] = []
    silent: set[int] = set()
    for account_id in sorted(candidates, key=lambda a: (infos[a].name.lower(), a)):
        if account_id in muted:
            continue
        if not any(by_month[m][account_id].has_rows for m in months if account_id in by_month[m]):
            continue
        wanted.append(account_id)
        silent.update(stopped_reporting(by_month[month][account_id], by_month[previous_month][account_id]))
    names = instance_labels(session, silent)
    out: list[Alert] = []
    for account_id in wanted:
        span = [by_month[m][account_id] for m in months]
        out.extend(
            account_alerts(
                infos[account_id], by_month[month][account_id], by_month[previous_month][account_id], span, names
            )
        )
    return out


# Slack for the float comparisons below: the SQL only narrows the accounts down, `account_alerts` decides on
# exactly the same figures, so an account on the edge is looked at rather than missed.
_SLACK = 1e-6


def _moved(session: Session, month: date, previous: date, fingerprint: str) -> tuple[set[str], set[str]]:
    """(accounts with stored rows of `fingerprint` for both months, those among them whose stored narrow
    columns moved as one of `account_alerts`' rules needs): every account that can raise an alert is in the
    second set (a few more may be), so the others need not be read."""
    new, old = AccountScore.__table__.alias("n"), AccountScore.__table__.alias("p")
    n, p = new.c, old.c

    def drop(col: str) -> ColumnElement[bool]:
        # Green -> Yellow or Red, Yellow -> Red; "No data" and "N/A" never count.
        return or_(and_(p[col] == GREEN, n[col].in_((YELLOW, RED))), and_(p[col] == YELLOW, n[col] == RED))

    def low(c: Any, margin: float) -> ColumnElement[bool]:
        return and_(
            c.license_value.is_not(None),
            c.age_months.is_not(None),
            c.age_months >= LOW_AFTER_MONTHS,
            c.license_value < LOW_UTILIZATION + margin,
        )

    moved = or_(
        drop("health_color"),
        *(drop(STORED_COLOR_COLUMNS[key]) for key in COLOR_MEASURES if key != "overall"),
        and_(
            p.license_value.is_not(None),
            n.license_value.is_not(None),
            p.license_value - n.license_value >= UTILIZATION_DROP - _SLACK,
        ),
        and_(low(n, _SLACK), not_(low(p, -_SLACK))),
    )
    # Instances that stopped reporting are worked out below from the two months' `pinged` texts: sets are
    # not compared the same way in PostgreSQL and SQLite.
    pings_differ = and_(n.active.is_(True), p.pinged != n.pinged)
    stmt = (
        select(n.account_id, case((moved, 1), else_=0), case((pings_differ, 1), else_=0), p.pinged, n.pinged)
        .join(old, and_(p.account_id == n.account_id, p.month == previous, p.fingerprint == fingerprint))
        .where(n.month == month, n.fingerprint == fingerprint)
    )
    stored: set[str] = set()
    found: set[str] = set()
    stopped: dict[str, set[str]] = {}
    for account_id, flag, differ, before, now in session.execute(stmt).all():
        stored.add(account_id)
        if flag:
            found.add(account_id)
        elif differ and (gone := set((before or "").split(",")) - set((now or "").split(",")) - {""}):
            stopped[account_id] = gone
    # Only a Production instance that stopped raises an alert.
    labels = instance_labels(session, {int(i) for ids in stopped.values() for i in ids})
    found.update(a for a, ids in stopped.items() if any(labels.get(int(i), ("", ""))[0] == PRODUCTION for i in ids))
    return stored, found


def instance_labels(session: Session, ids: Collection[int]) -> dict[int, tuple[str, str]]:
    """(current label, display name) of each instance."""
    c = Instance.__table__.c
    out: dict[int, tuple[str, str]] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 5000):
        stmt = select(c.id, c.label, c.hostname, c.namespace_name, c.namespace_id, c.identity).where(
            c.id.in_(ordered[i : i + 5000])
        )
        for r in session.execute(stmt):
            out[r[0]] = (r[1], instance_display_name(r[2], r[3], r[4], r[5]))
    return out


# ------------------------------------------------------------------------------------------ sending


class AlertSender(Protocol):
    """How alerts reach Slack (implemented in `bot.features.alerts.jobs` over slack_sdk's WebClient)."""

    def user_for_email(self, email: str) -> str | None: ...

    def send(self, user_id: str, records: Sequence[AlertRecord], claim_token: str) -> tuple[str, str]:
        """Post one DM with all `records`, tagged with `claim_token`; returns (channel, ts). Raises on failure."""
        ...

    def find_sent(self, user_id: str, claim_token: str) -> tuple[str, str] | None:
        """(channel, ts) of a DM already tagged with `claim_token`, or None (a sender that crashed mid-way)."""
        ...


@dataclass
class SendResult:
    recorded: int = 0  # new alert records written by this run
    already: int = 0  # alerts recorded by an earlier run (not repeated)
    messages: int = 0  # DMs sent (one per TAM)
    sent: int = 0  # alert records delivered
    no_tam: list[str] = field(default_factory=list)  # account ids without a TAM email
    tams_not_found: list[str] = field(default_factory=list)  # TAM emails Slack does not know
    failed: list[str] = field(default_factory=list)  # TAM emails whose DM failed (left pending)


def record_alerts(session: Session, alerts: Iterable[Alert]) -> tuple[int, int]:
    """Write a record for each alert not recorded yet; returns (new, already recorded)."""
    alerts = list(alerts)
    if not alerts:
        return 0, 0
    months = {a.month for a in alerts}
    existing = {
        (r.account_id, r.kind, r.measure, r.month)
        for r in session.execute(
            select(AlertRecord.account_id, AlertRecord.kind, AlertRecord.measure, AlertRecord.month).where(
                AlertRecord.month.in_(months)
            )
        )
    }
    new = 0
    for a in alerts:
        if a.key in existing:
            continue
        existing.add(a.key)
        try:
            # A savepoint per record: a concurrent run that recorded it first just wins.
            with session.begin_nested():
                session.add(
                    AlertRecord(
                        account_id=a.account_id,
                        kind=a.kind,
                        measure=a.measure,
                        month=a.month,
                        tam_email=a.tam_email,
                        message=a.message,
                        details={
                            "account_name": a.account_name,
                            "tam_name": a.tam_name,
                            "view": a.view,
                            "command": a.command,
                            "previous_month": a.previous_month.isoformat(),
                            "before": a.before,
                            "after": a.after,
                        },
                        status="pending" if a.tam_email else "no_tam",
                    )
                )
            new += 1
        except IntegrityError:
            continue
    session.commit()
    return new, len(alerts) - new


def _claim(session: Session, tam_email: str) -> tuple[str, list[AlertRecord]]:
    token = uuid.uuid4().hex
    session.execute(
        update(AlertRecord)
        .where(AlertRecord.status == "pending", AlertRecord.tam_email == tam_email)
        # sent_at holds the claim time while sending (the delivery time once sent): stuck claims are found by it.
        .values(status="sending", claim_token=token, sent_at=datetime.now(UTC))
    )
    session.commit()
    records = list(
        session.scalars(
            select(AlertRecord)
            .where(AlertRecord.claim_token == token, AlertRecord.status == "sending")
            .order_by(AlertRecord.account_id, AlertRecord.id)
        )
    )
    return token, records


def _finish(session: Session, token: str, status: str, **values: Any) -> None:
    session.execute(
        update(AlertRecord)
        .where(AlertRecord.claim_token == token, AlertRecord.status == "sending")
        .values(status=status, **values)
    )
    session.commit()


STUCK_AFTER = timedelta(minutes=10)


def recover_stuck(session: Session, sender: AlertSender, *, older_than: timedelta = STUCK_AFTER) -> int:
    """Claims left "sending" by a sender that died: if Slack has the tagged DM they were sent (mark them),
    else they go back to pending and are sent now. Returns how many records were put back."""
    cutoff = datetime.now(UTC) - older_than
    stuck = session.execute(
        select(AlertRecord.claim_token, AlertRecord.tam_email)
        .where(AlertRecord.status == "sending", AlertRecord.sent_at < cutoff)
        .distinct()
    ).all()
    put_back = 0
    for token, email in stuck:
        try:
            user_id = sender.user_for_email(email) if email else None
            found = sender.find_sent(user_id, token) if user_id else None
        except Exception as exc:  # Slack unreachable: decide on a later run
            log.warning("alerts: could not check stuck claim %s: %s", token, exc)
            continue
        if found is not None:
            _finish(session, token, "sent", slack_channel=found[0], slack_ts=found[1])
        else:
            put_back += rows_changed(
                session.execute(
                    update(AlertRecord)
                    .where(AlertRecord.claim_token == token, AlertRecord.status == "sending")
                    .values(status="pending", claim_token=None, sent_at=None)
                )
            )
            session.commit()
    return put_back


def send_alerts(session: Session, alerts: Iterable[Alert], sender: AlertSender) -> SendResult:
    """Record new alerts, then deliver every pending record: one DM per TAM."""
    alerts = list(alerts)
    result = SendResult()
    recover_stuck(session, sender)
    result.recorded, result.already = record_alerts(session, alerts)
    result.no_tam = sorted({a.account_id for a in alerts if not a.tam_email})
    muted = muted_accounts(session)
    # Records of accounts muted since they were written are not delivered.
    if muted:
        session.execute(
            update(AlertRecord)
            .where(AlertRecord.status == "pending", AlertRecord.account_id.in_(muted))
            .values(status="muted")
        )
        session.commit()
    tams = sorted(
        {
            email
            for email in session.scalars(
                select(AlertRecord.tam_email).where(AlertRecord.status == "pending", AlertRecord.tam_email.is_not(None))
            )
            if email is not None
        }
    )
    for email in tams:
        token, records = _claim(session, email)
        if not records:
            continue  # another sender took them
        try:
            user_id = sender.user_for_email(email)
        except Exception as exc:  # Slack unreachable: keep them for the next run
            log.warning("alerts: could not look up %s: %s", email, exc)
            _finish(session, token, "pending", claim_token=None, sent_at=None)
            result.failed.append(email)
            continue
        if user_id is None:
            _finish(session, token, "tam_not_found", claim_token=None, sent_at=None)
            result.tams_not_found.append(email)
            continue
        try:
            channel, ts = sender.send(user_id, records, token)
        except Exception as exc:
            log.warning("alerts: DM to %s failed, kept for the next run: %s", email, exc)
            _finish(session, token, "pending", claim_token=None, sent_at=None)
            result.failed.append(email)
            continue
        _finish(session, token, "sent", sent_at=datetime.now(UTC), slack_channel=channel, slack_ts=ts)
        result.messages += 1
        result.sent += len(records)
    return result


# ------------------------------------------------------------------------------------------- muting


def account_tam_email(session: Session, account_id: str) -> tuple[str, str | None] | None:
    """(account name, TAM email lower-cased) or None when the account is unknown."""
    from db.models import Account

    row = session.execute(select(Account.name, Account.tam_email).where(Account.id == account_id)).first()
    if row is None:
        return None
    return row[0], (row[1] or "").strip().lower() or None


def mute_account(session: Session, account_id: str, user_id: str, user_name: str | None = None) -> bool:
    """Mute the account's alerts; True when this call muted it (False: it already was)."""
    from db.models import AlertMute

    if session.scalar(select(AlertMute.id).where(AlertMute.account_id == account_id)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(AlertMute(account_id=account_id, muted_by=user_id, muted_by_name=user_name))
    except IntegrityError:  # a double click raced us: it is muted, which is what was asked
        return False
    session.commit()
    return True


def unmute_account(session: Session, account_id: str) -> bool:
    from sqlalchemy import delete

    from db.models import AlertMute

    deleted = rows_changed(session.execute(delete(AlertMute).where(AlertMute.account_id == account_id)))
    session.commit()
    return bool(deleted)
