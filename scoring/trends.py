"""The account's last months, measure by measure, with month-over-month change."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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


def series(points: Sequence[tuple[date, float | None, float | None, Color]]) -> tuple[TrendPoint, ...]:
    out = []
    prev: float | None = None
    for month, value, score, color in points:
        change = value - prev if value is not None and prev is not None else None
        out.append(TrendPoint(month, value, score, color, change))
        prev = value
    return tuple(out)


SubscriptionPoint = tuple[float | None, int | None, Color]  # seats in use, License utilization score, colour


def subscription_series(
    months: Sequence[tuple[date, Mapping[str, SubscriptionPoint]]],
) -> dict[str, tuple[TrendPoint, ...]]:
    """Each subscription's series, month by month (no data in a month where it is not active), by id."""
    ids = sorted({sid for _, subs in months for sid in subs})
    return {sid: series([(m, *subs.get(sid, (None, None, NO_DATA))) for m, subs in months]) for sid in ids}


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
        key: series(
            [(am.month, am.measures[key].value, am.measures[key].score, am.measures[key].color) for am in rolled]
        )
        for key in MEASURE_KEYS
    }
    overall = series([(am.month, am.overall.score, am.overall.score, am.overall.color) for am in rolled])
    billable = series(
        [(am.month, None if am.billable_users is None else float(am.billable_users), None, NO_DATA) for am in rolled]
    )
    seats = series([(am.month, float(am.licensed_seats), None, NO_DATA) for am in rolled])
    util = series(
        [
            (
                am.month,
                am.utilization,
                None,
                NO_DATA,
            )
            for am in rolled
        ]
    )
    per_sub = subscription_series(
        [
            (
                am.month,
                {
                    sm.info.id: (
                        sm.utilization,
                        sm.license.score if sm.license else None,
                        sm.license.color if sm.license else NO_DATA,
                    )
                    for sm in am.subscriptions
                },
            )
            for am in rolled
        ]
    )
    return Trends(months, measures, overall, billable, seats, util, per_sub, tuple(rolled))


# ------------------------------------------------------------------------------------------ sparklines

_SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float | None], top: float) -> str:
    """▁▂▃▄▅▆▇█ of a series on a FIXED scale from 0 to `top` (1.0 for ratios, 100 for scores), so a
    constant line stays where its value is and 82% → 84% is a small step; '·' = no data that month.
    Values above `top` (more users than seats) draw as a full bar."""
    out = []
    for v in values:
        if v is None:
            out.append("·")
            continue
        share = min(max(v / top, 0.0), 1.0) if top > 0 else 0.0
        out.append(_SPARK[round(share * (len(_SPARK) - 1))])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class SparkRow:
    """One line of the trends table: the same series, scale and label in every view."""

    key: str  # "seats", a measure key, or "overall"
    label: str
    scale: str  # what the bars measure, said next to them: "0–100%" or "score 0–100"
    values: tuple[float | None, ...]
    top: float
    last: TrendPoint | None

    @property
    def line(self) -> str:
        return sparkline(self.values, self.top)

    @property
    def change_points(self) -> float | None:
        """Last month's move along the line drawn, in points of its 0–100 scale; None without both months.

        Said in the unit of the bars beside it: percentage points for ratios, score points for scores.
        """
        if len(self.values) < 2 or self.values[-1] is None or self.values[-2] is None:
            return None
        return (self.values[-1] - self.values[-2]) * 100 / self.top


def spark_rows(trends: Trends, labels: Mapping[str, str], ratio_keys: Sequence[str]) -> tuple[SparkRow, ...]:
    """The sparkline rows of an account: seats in use, each measure, product health.

    Measures shown as a ratio (`ratio_keys`) draw their value on 0–100%; the others (CI builds per user,
    CD and Security sub-score means) draw their score on 0–100, as product health does.
    """
    rows = [_row("seats", "Seats in use", trends.utilization, ratio=True)]
    for key in MEASURE_KEYS:
        series = trends.measures.get(key, ())
        rows.append(_row(key, labels.get(key, key), series, ratio=key in ratio_keys))
    rows.append(_row("overall", "Product health", trends.overall, ratio=False))
    return tuple(rows)


def _row(key: str, label: str, series: Sequence[TrendPoint], *, ratio: bool) -> SparkRow:
    values = tuple(p.value if ratio else p.score for p in series)
    return SparkRow(
        key,
        label,
        "0–100%" if ratio else "score 0–100",
        values,
        1.0 if ratio else 100.0,
        series[-1] if series else None,
    )
