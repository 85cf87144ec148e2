"""The account's last months, measure by measure, with month-over-month change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from scoring.model import (
    MEASURE_KEYS,
    NO_DATA,
    AccountInfo,
    AccountMonth,
    Color,
    InstanceInfo,
    SubscriptionInfo,
    TrendPoint,
    Trends,
    UsageRow,
)
from scoring.rollup import roll_up
from scoring.rules import Rules


def add_months(month: date, n: int) -> date:
    idx = month.year * 12 + (month.month - 1) + n
    return date(idx // 12, idx % 12 + 1, 1)


def window(month: date, months: int) -> tuple[date, ...]:
    """`months` first-of-month dates ending with `month`, oldest first."""
    return tuple(add_months(month.replace(day=1), -i) for i in range(months - 1, -1, -1))


def _series(points: Sequence[tuple[date, float | None, float | None, Color]]) -> tuple[TrendPoint, ...]:
    out = []
    prev: float | None = None
    for month, value, score, color in points:
        change = value - prev if value is not None and prev is not None else None
        out.append(TrendPoint(month, value, score, color, change))
        prev = value
    return tuple(out)


def build_trends(
    account: AccountInfo,
    subscriptions: Sequence[SubscriptionInfo],
    instances: Mapping[int, InstanceInfo],
    rows: Sequence[UsageRow],
    current: AccountMonth,
    rules: Rules,
) -> Trends:
    months = window(current.month, rules.trend_months)
    by_month: dict[date, list[UsageRow]] = {}
    for r in rows:
        by_month.setdefault(r.snapshot_month, []).append(r)
    rolled: list[AccountMonth] = []
    for m in months:
        if m == current.month:
            rolled.append(current)
        else:
            rolled.append(
                roll_up(account, subscriptions, instances, by_month.get(m, []), m, rules, with_instances=False)
            )
    measures = {
        key: _series(
            [(am.month, am.measures[key].value, am.measures[key].score, am.measures[key].color) for am in rolled]
        )
        for key in MEASURE_KEYS
    }
    overall = _series([(am.month, am.overall.score, am.overall.score, am.overall.color) for am in rolled])
    billable = _series(
        [(am.month, None if am.billable_users is None else float(am.billable_users), None, NO_DATA) for am in rolled]
    )
    seats = _series([(am.month, float(am.licensed_seats), None, NO_DATA) for am in rolled])
    util = _series(
        [
            (
                am.month,
                am.billable_users / am.licensed_seats if am.billable_users is not None and am.licensed_seats else None,
                None,
                NO_DATA,
            )
            for am in rolled
        ]
    )
    sub_ids = sorted({sm.info.id for am in rolled for sm in am.subscriptions})
    per_sub = {}
    for sid in sub_ids:
        points = []
        for am in rolled:
            sm = next((x for x in am.subscriptions if x.info.id == sid), None)
            lic = sm.license if sm else None
            points.append(
                (
                    am.month,
                    sm.utilization if sm else None,
                    lic.score if lic else None,
                    lic.color if lic else NO_DATA,
                )
            )
        per_sub[sid] = _series(points)
    return Trends(months, measures, overall, billable, seats, util, per_sub, tuple(rolled))
