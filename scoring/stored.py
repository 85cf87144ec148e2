"""An account-month's figures as stored in the score tables: the pure serializer of `compute_report`'s answer.

Views over many accounts (Home, `/usage mine|team`, alerts, the health trend) read these instead of scoring
raw rows on request. `summarize` takes the one computed report (`scoring.report.compute_report`) and keeps
what those views show; `to_json` / `from_json` carry it through the database unchanged (floats round-trip
exactly). There is no second implementation of any figure here: every value is read off the report.

`rules_fingerprint` names the rules content (not just the rules' name) a stored row was computed with, so a
changed rules file never serves stale rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, cast

from scoring.adoption_rules import AdoptionRules
from scoring.model import (
    MEASURE_KEYS,
    NO_DATA,
    AccountReport,
    Color,
    Flag,
    FlagKind,
    InstanceInfo,
    MeasureResult,
    Trends,
    UsageRow,
)
from scoring.rollup import pinged_in
from scoring.rules import Rules
from scoring.trends import add_months, series, subscription_series

# Bumped whenever what `summarize` keeps changes, so rows of the old shape read as stale (2: the narrow
# columns of `columns`; 3: the License utilization colour, tiers and flag kinds among them).
SCORE_FORMAT = 3
UNKNOWN_LABEL = "Unknown"


def rules_fingerprint(rules: Rules, adoption: AdoptionRules | None) -> str:
    """A hash of the loaded rules' content (health and adoption) and of the stored shape."""
    h = hashlib.sha256(f"format {SCORE_FORMAT}\n".encode())
    h.update(rules.model_dump_json().encode())
    h.update(b"\n")
    h.update(b"" if adoption is None else adoption.model_dump_json().encode())
    return h.hexdigest()[:32]


class StoredMeasure(NamedTuple):
    """A measure as views show it. A tuple: a portfolio of every account reads 120,000 of them."""

    color: Color
    value: float | None
    score: int | None
    shown: str


@dataclass(frozen=True, slots=True)
class StoredPrimary:
    """A primary instance of the month: the instance that speaks for a subscription."""

    instance_id: int
    name: str
    subscription_ids: tuple[str, ...]
    overall_color: Color
    overall_score: float | None
    overall_shown: str
    measures: Mapping[str, StoredMeasure] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredPing:
    """An instance with rows in the month: what alerts compare between two months."""

    instance_id: int
    last_ping: datetime | None  # the latest ping among the month's rows
    pinged: bool  # a ping dated in the month (`scoring.rollup.pinged_in`)


@dataclass(frozen=True, slots=True)
class StoredSubscription:
    """A subscription active in the month: seats in use and its primary's License utilization."""

    id: str
    utilization: float | None
    license_score: int | None
    license_color: Color


@dataclass(frozen=True, slots=True)
class StoredScore:
    """What every portfolio-like view shows of one account and month."""

    account_id: str
    month: date
    overall_color: Color
    overall_score: float | None
    overall_shown: str
    measures: Mapping[str, StoredMeasure]
    billable_users: int | None  # seats in use: each primary instance or namespace once
    licensed_seats: int
    utilization: float | None  # billable_users / licensed_seats (not the health measure)
    reporting_share: float | None
    unknown_instances: int
    tiers: tuple[str, ...]
    flags: tuple[Flag, ...]
    age_months: int | None
    primaries: tuple[StoredPrimary, ...] = ()
    active: bool = False  # a subscription is active in the month
    has_rows: bool = False  # the account has usage rows for the month
    pings: tuple[StoredPing, ...] = ()
    subscriptions: tuple[StoredSubscription, ...] = ()


def unknown_instance_count(
    instances: Mapping[int, InstanceInfo], rows: Sequence[UsageRow], month: date, recent_months: int
) -> int:
    """Instances still labelled Unknown that are part of the month's picture (seen within `recent_months`)."""
    seen = {r.instance_id for r in rows if r.snapshot_month <= month}
    oldest = add_months(month, -(recent_months - 1))
    return sum(
        1
        for i, inst in instances.items()
        if inst.label == UNKNOWN_LABEL and ((last := inst.last_seen_month) is None or last >= oldest or i in seen)
    )


def _measure(m: MeasureResult) -> StoredMeasure:
    return StoredMeasure(m.color, m.value, m.score, m.shown)


def month_pings(rows: Sequence[UsageRow], month: date) -> tuple[StoredPing, ...]:
    """Each instance with rows in `month`: its latest ping among them, and whether it pinged in the month."""
    last: dict[int, datetime | None] = {}
    pinged: dict[int, bool] = {}
    for r in rows:
        if r.snapshot_month != month:
            continue
        i, ping = r.instance_id, r.ping_created_at
        if i not in last or (ping is not None and ((prev := last[i]) is None or ping > prev)):
            last[i] = ping
        pinged[i] = pinged.get(i, False) or pinged_in(r, month)
    return tuple(StoredPing(i, last[i], pinged[i]) for i in sorted(last))


def summarize(report: AccountReport, *, unknown_instances: int, rows: Sequence[UsageRow] = ()) -> StoredScore:
    """The stored figures of a computed report (pure); `rows` are the rows it was computed from."""
    c = report.current
    tiers = sorted({s.info.tier for s in c.subscriptions if s.info.tier})
    primaries = tuple(
        StoredPrimary(
            instance_id=i.instance.id,
            name=i.instance.display_name,
            subscription_ids=tuple(i.subscription_ids),
            overall_color=i.overall.color,
            overall_score=i.overall.score,
            overall_shown=i.overall.shown,
            measures={k: _measure(i.measures[k]) for k in MEASURE_KEYS if k in i.measures},
        )
        for i in c.instances
        if i.primary
    )
    return StoredScore(
        account_id=report.account.id,
        month=c.month,
        overall_color=c.overall.color,
        overall_score=c.overall.score,
        overall_shown=c.overall.shown,
        measures={k: _measure(c.measures[k]) for k in MEASURE_KEYS},
        billable_users=c.billable_users,
        licensed_seats=c.licensed_seats,
        utilization=c.utilization,
        reporting_share=c.reporting_share,
        unknown_instances=unknown_instances,
        tiers=tuple(tiers),
        flags=tuple(report.flags),
        age_months=c.age_months,
        primaries=primaries,
        active=bool(c.subscriptions),
        has_rows=any(r.snapshot_month == c.month for r in rows),
        pings=month_pings(rows, c.month),
        subscriptions=tuple(
            StoredSubscription(
                sm.info.id,
                sm.utilization,
                sm.license.score if sm.license else None,
                sm.license.color if sm.license else NO_DATA,
            )
            for sm in c.subscriptions
        ),
    )


_NO_DETAIL: Mapping[str, Any] = {"primaries": (), "pings": (), "subscriptions": ()}


def _measures_json(ms: Mapping[str, StoredMeasure]) -> dict[str, list[Any]]:
    return {k: [m.color, m.value, m.score, m.shown] for k, m in ms.items()}


def _measures_from(d: Mapping[str, Sequence[Any]]) -> dict[str, StoredMeasure]:
    make = StoredMeasure._make
    return {k: make(v) for k, v in d.items()}


# The measures whose colour alerts compare between two months (besides the overall), by table column.
COLOR_COLUMNS: Mapping[str, str] = {
    "scm": "scm_color",
    "ci": "ci_color",
    "cd": "cd_color",
    "security": "security_color",
    "user_engagement": "engagement_color",
}
PURCHASE_INTENT = "purchase_intent"


def has_purchase_intent(flags: Sequence[Flag]) -> bool:
    """Pays for Ultimate while its Security measure is Red or empty: the `purchase_intent` flag is raised."""
    return any(f.kind == PURCHASE_INTENT for f in flags)


def pinged_text(pings: Sequence[StoredPing]) -> str:
    """The ids of the instances that pinged in the month, sorted, comma-separated ("" for none): two months
    with equal texts have no instance that stopped reporting."""
    return ",".join(str(p.instance_id) for p in sorted(pings, key=lambda p: p.instance_id) if p.pinged)


def columns(s: StoredScore) -> dict[str, Any]:
    """The table's narrow columns, read off the same figures as `to_json`: what views sort, count, page and
    compare on in SQL, so that only the rows shown (or that may raise an alert) have `summary` decoded."""
    m = s.measures
    return {
        "health_color": s.overall_color,
        "health_score": s.overall_score,
        "utilization": s.utilization,
        "unknown_instances": s.unknown_instances,
        "purchase_intent": has_purchase_intent(s.flags),
        **{col: m[key].color for key, col in COLOR_COLUMNS.items()},
        "license_value": m["license_utilization"].value,
        "age_months": s.age_months,
        "active": s.active,
        "pinged": pinged_text(s.pings),
        "license_color": m["license_utilization"].color,
        "tiers": json.dumps(list(s.tiers)),
        "flag_kinds": json.dumps(sorted({f.kind for f in s.flags})),
    }


def to_json(s: StoredScore) -> dict[str, Any]:
    """The figures the portfolio views show, JSON-able: the table's `summary` (the key, account and month,
    is the table's; `detail_json` holds the rest)."""
    return {
        "overall": [s.overall_color, s.overall_score, s.overall_shown],
        "measures": _measures_json(s.measures),
        "billable_users": s.billable_users,
        "licensed_seats": s.licensed_seats,
        "utilization": s.utilization,
        "reporting_share": s.reporting_share,
        "unknown_instances": s.unknown_instances,
        "tiers": list(s.tiers),
        "flags": [[f.kind, f.message, f.instance_id, f.subscription_id, list(f.details)] for f in s.flags],
        "age_months": s.age_months,
        "active": s.active,
        "has_rows": s.has_rows,
    }


def detail_json(s: StoredScore) -> dict[str, Any]:
    """The rest, JSON-able (the table's `detail`): primary instances, pings, subscriptions. Kept apart so a
    portfolio of every account reads only what it shows."""
    return {
        "primaries": [
            [
                p.instance_id,
                p.name,
                list(p.subscription_ids),
                [p.overall_color, p.overall_score, p.overall_shown],
                _measures_json(p.measures),
            ]
            for p in s.primaries
        ],
        "pings": [[p.instance_id, None if p.last_ping is None else p.last_ping.isoformat(), p.pinged] for p in s.pings],
        "subscriptions": [[x.id, x.utilization, x.license_score, x.license_color] for x in s.subscriptions],
    }


def from_json(
    account_id: str, month: date, d: Mapping[str, Any], detail: Mapping[str, Any] | None = None
) -> StoredScore:
    """The inverse of `to_json` (and of `detail_json`, given `detail`; without it primaries, pings and
    subscriptions are empty)."""
    ov = d["overall"]
    x = detail or _NO_DETAIL
    return StoredScore(
        account_id=account_id,
        month=month,
        overall_color=cast(Color, ov[0]),
        overall_score=ov[1],
        overall_shown=ov[2],
        measures=_measures_from(d["measures"]),
        billable_users=d["billable_users"],
        licensed_seats=d["licensed_seats"],
        utilization=d["utilization"],
        reporting_share=d["reporting_share"],
        unknown_instances=d["unknown_instances"],
        tiers=tuple(d["tiers"]),
        flags=tuple(
            Flag(kind=cast(FlagKind, f[0]), message=f[1], instance_id=f[2], subscription_id=f[3], details=tuple(f[4]))
            for f in d["flags"]
        ),
        age_months=d["age_months"],
        primaries=tuple(
            StoredPrimary(
                instance_id=p[0],
                name=p[1],
                subscription_ids=tuple(p[2]),
                overall_color=cast(Color, p[3][0]),
                overall_score=p[3][1],
                overall_shown=p[3][2],
                measures=_measures_from(p[4]),
            )
            for p in x["primaries"]
        ),
        active=d["active"],
        has_rows=d["has_rows"],
        pings=tuple(StoredPing(p[0], None if p[1] is None else datetime.fromisoformat(p[1]), p[2]) for p in x["pings"]),
        subscriptions=tuple(StoredSubscription(u[0], u[1], u[2], cast(Color, u[3])) for u in x["subscriptions"]),
    )


def trends_of(months: Sequence[date], scores: Mapping[date, StoredScore]) -> Trends:
    """The 12-month trends drawn from stored scores (every month of `months` must be there): the same series
    `scoring.trends.build_trends` rolls up from raw rows, without the roll-ups themselves (`rolled` is empty;
    user adoption's series, which needs them, is built from raw rows)."""
    rows = [scores[m] for m in months]
    measures = {
        key: series([(s.month, s.measures[key].value, s.measures[key].score, s.measures[key].color) for s in rows])
        for key in MEASURE_KEYS
    }
    overall = series([(s.month, s.overall_score, s.overall_score, s.overall_color) for s in rows])
    billable = series(
        [(s.month, None if s.billable_users is None else float(s.billable_users), None, NO_DATA) for s in rows]
    )
    seats = series([(s.month, float(s.licensed_seats), None, NO_DATA) for s in rows])
    util = series([(s.month, s.utilization, None, NO_DATA) for s in rows])
    per_sub = subscription_series(
        [(s.month, {x.id: (x.utilization, x.license_score, x.license_color) for x in s.subscriptions}) for s in rows]
    )
    return Trends(tuple(months), measures, overall, billable, seats, util, per_sub, ())
