"""Per account, per month: docs/scoring.md, account steps 1-8 (subscriptions, primaries, ARR weighting, overall, share).

Primary instance of an (original subscription, delivery type): the scored Production, non-Opt-Out row
with the most billable users (empty last), then the latest ping (empty last), then, so the choice is
deterministic, the lowest instance id.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from scoring.bands import fmt_banded, place
from scoring.measures import (
    age_reason,
    banded,
    empty,
    is_scored_row,
    months_between,
    overall_of,
    score_row,
    tier_applies,
)
from scoring.model import (
    MEASURE_KEYS,
    NO_DATA,
    NOT_APPLICABLE,
    AccountInfo,
    AccountMeasure,
    AccountMonth,
    Color,
    Contribution,
    Exclusion,
    InstanceInfo,
    InstanceMonth,
    MeasureResult,
    Overall,
    SubscriptionInfo,
    SubscriptionMonth,
    UsageRow,
)
from scoring.rules import MeasureRule, Rules


def seat_ratio(billable: int | None, seats: int) -> float | None:
    """Seats in use: billable users / licensed seats; None without seats or without a count."""
    return billable / seats if billable is not None and seats > 0 else None


@lru_cache(maxsize=4096)
def _month_span(month: date) -> tuple[date, date]:
    # Asked for every row and subscription of every account-month: a few dozen distinct months in all.
    return month.replace(day=1), month.replace(day=calendar.monthrange(month.year, month.month)[1])


def month_end(month: date) -> date:
    return _month_span(month)[1]


def active_in(sub: SubscriptionInfo, month: date) -> bool:
    """Step 1: started on or before the month's last day; no end, or ended on or after its first day."""
    first, last = _month_span(month)
    return sub.start_date <= last and (sub.end_date is None or sub.end_date >= first)


def pinged_in(row: UsageRow, month: date) -> bool:
    """Step 4: a ping dated in the month (UTC). A ping from another month is not this month's data."""
    if row.ping_created_at is None:
        return False
    first, last = _month_span(month)
    return first <= row.ping_created_at.date() <= last


def primary_order(row: UsageRow) -> tuple[bool, int, bool, float, int]:
    """Sort key: most billable users (empty last), latest ping (empty last), lowest instance id."""
    b, p = row.billable_user_count, row.ping_created_at
    return (b is None, -(b or 0), p is None, -p.timestamp() if p is not None else 0.0, row.instance_id)


def choose_primary(rows: Sequence[UsageRow]) -> UsageRow:
    return min(rows, key=primary_order)


def account_age(account: AccountInfo, subscriptions: Sequence[SubscriptionInfo], month: date) -> int | None:
    """Months since customer_since_date, else since the account's earliest subscription start."""
    since = account.customer_since_date
    if since is None and subscriptions:
        since = min(s.start_date for s in subscriptions)
    return months_between(since, month) if since else None


def describe_instance(inst: InstanceInfo | None, instance_id: int) -> str:
    if inst is None:
        return f"instance {instance_id}"
    return inst.display_name


@dataclass(frozen=True)
class _Group:
    subscription: SubscriptionInfo
    delivery_type: str
    primary: UsageRow
    reporting: bool
    measures: Mapping[str, MeasureResult]


def _row_exclusion(
    row: UsageRow,
    subs: Mapping[str, SubscriptionInfo],
    active: set[str],
    inst: InstanceInfo | None,
    rules: Rules,
) -> str | None:
    """Why a row of the month cannot be a primary (steps 1-3), or None when it can."""
    if row.subscription_id not in active:
        sub = subs.get(row.subscription_id)
        label = sub.name if sub else row.subscription_id
        return f"{describe_instance(inst, row.instance_id)}: its subscription {label} is not active this month"
    if row.label != rules.account.production_label:
        return (
            f"{describe_instance(inst, row.instance_id)}: not {rules.account.production_label} (labelled {row.label})"
        )
    if row.opt_out:
        return f"{describe_instance(inst, row.instance_id)}: marked {rules.account.opt_out_value}"
    if not is_scored_row(row):
        return f"{describe_instance(inst, row.instance_id)}: no license user count (empty or 0), so not scored"
    return None


def _eligible(row: UsageRow, active: set[str], rules: Rules) -> bool:
    """The same test as `_row_exclusion(...) is None`, without building the reason."""
    return (
        row.subscription_id in active
        and row.label == rules.account.production_label
        and not row.opt_out
        and is_scored_row(row)
    )


def _weighted(values: list[tuple[_Group, float]]) -> tuple[float, list[float], bool]:
    """Step 5: weight by ARR (empty = 0); equal weights when the ARR weights sum to 0."""
    arrs = [g.subscription.arr or 0.0 for g, _ in values]
    total = sum(arrs)
    if total > 0:
        value = sum(a * v for a, (_, v) in zip(arrs, values, strict=True)) / total
        return value, [a / total for a in arrs], False
    n = len(values)
    return sum(v for _, v in values) / n, [1.0 / n] * n, True


def _account_measure(
    key: str,
    groups: list[_Group],
    base_exclusions: list[Exclusion],
    month_subs: list[SubscriptionInfo],
    age: int | None,
    instances: Mapping[int, InstanceInfo],
    rules: Rules,
) -> AccountMeasure:
    rule = rules.measures[key]
    left_out = list(base_exclusions)
    values: list[tuple[_Group, float]] = []
    for g in groups:
        sub_name = g.subscription.name
        if not tier_applies(rule, g.subscription.tier):
            left_out.append(
                Exclusion(f"{sub_name}: not {rule.only_tiers_containing}", g.subscription.id, g.primary.instance_id)
            )
            continue
        if not g.reporting:
            inst_name = describe_instance(instances.get(g.primary.instance_id), g.primary.instance_id)
            left_out.append(
                Exclusion(
                    f"{sub_name}: not reporting (no ping this month from its primary instance {inst_name})",
                    g.subscription.id,
                    g.primary.instance_id,
                )
            )
            continue
        m = g.measures[key]
        if m.value is None:
            inst_name = describe_instance(instances.get(g.primary.instance_id), g.primary.instance_id)
            left_out.append(
                Exclusion(f"{sub_name}: empty on {inst_name} ({m.reason})", g.subscription.id, g.primary.instance_id)
            )
            continue
        # CD and Security roll up the instance's mean sub-score; the others the instance's ratio.
        values.append((g, m.value))

    common = {"left_out": tuple(left_out)}
    if rule.only_tiers_containing and not any(tier_applies(rule, s.tier) for s in month_subs):
        reason = f"no {rule.only_tiers_containing} subscription"
        return AccountMeasure(**_empty_fields(key, rule, reason, NOT_APPLICABLE), **common)  # type: ignore[arg-type]
    if not values:
        relevant = [g for g in groups if tier_applies(rule, g.subscription.tier)]
        scope = f" for a {rule.only_tiers_containing} subscription" if rule.only_tiers_containing else ""
        if not month_subs:
            reason = "no subscription active this month"
        elif not relevant:
            reason = f"no scored {rules.account.production_label} instance{scope} this month"
        elif not any(g.reporting for g in relevant):
            reason = f"no subscription{scope} reports this month"
        else:
            reason = "the reporting subscriptions have no value for it"
        unknown = sum(1 for e in base_exclusions if "(labelled Unknown)" in e.reason)
        if unknown:
            reason += f"; {unknown} instance(s) are labelled Unknown: relabel them if they are Production"
        return AccountMeasure(**_empty_fields(key, rule, reason, NO_DATA), **common)  # type: ignore[arg-type]

    value, weights, equal = _weighted(values)
    used = []
    for (g, v), w in zip(values, weights, strict=True):
        if w == 0:
            left_out.append(Exclusion(f"{g.subscription.name}: no ARR, so weight 0", g.subscription.id))
            continue
        used.append(
            Contribution(g.subscription.id, g.primary.instance_id, v, g.subscription.arr, w, g.measures[key].sentence)
        )
    single = len(used) == 1
    first = next(g for (g, _), w in zip(values, weights, strict=True) if w > 0).measures[key]
    bands = rule.bands_for_age(age)
    if single:
        # One subscription carries the value: say it with that instance's own numbers.
        detail = first.sentence.split(": ", 1)[-1].split("; ")[0]
    else:
        how = "averaged (no ARR to weight by)" if equal else "ARR-weighted"
        detail = f"{fmt_banded(value, rule.display, bands)}, {how} over {len(used)} subscriptions"
    kw = {
        "inputs": first.inputs if single else (),
        "formula": first.formula,
        "sub_scores": first.sub_scores if single else (),
        "used": tuple(used),
        "left_out": tuple(left_out),
        "equal_weights": equal,
    }
    if bands is None:
        reason = age_reason(rule, age)
        return AccountMeasure(
            key=key,
            label=rule.label,
            value=value,
            score=None,
            color=NO_DATA,
            sentence=f"{rule.label}: {detail}; {reason}",
            reason=reason,
            shown=fmt_banded(value, rule.display),
            **kw,  # type: ignore[arg-type]
        )
    m = banded(key, rule, value, bands, rules, detail)
    return AccountMeasure(
        key=key,
        label=m.label,
        value=m.value,
        score=m.score,
        color=m.color,
        band=m.band,
        next_threshold=m.next_threshold,
        sentence=m.sentence,
        shown=m.shown,
        **kw,  # type: ignore[arg-type]
    )


def _quick_account_measure(
    key: str, groups: list[_Group], month_subs: list[SubscriptionInfo], age: int | None, rules: Rules
) -> AccountMeasure:
    """`_account_measure` without explanations (same values, scores and colours): for trends."""
    rule = rules.measures[key]
    if rule.only_tiers_containing and not any(tier_applies(rule, s.tier) for s in month_subs):
        return AccountMeasure(key=key, label=rule.label, value=None, score=None, color=NOT_APPLICABLE)
    values: list[tuple[_Group, float]] = []
    for g in groups:
        if g.reporting and tier_applies(rule, g.subscription.tier):
            v = g.measures[key].value
            if v is not None:
                values.append((g, v))
    if not values:
        return AccountMeasure(key=key, label=rule.label, value=None, score=None, color=NO_DATA)
    value, _weights, equal = _weighted(values)
    bands = rule.bands_for_age(age)
    if bands is None:
        return AccountMeasure(key=key, label=rule.label, value=value, score=None, color=NO_DATA, equal_weights=equal)
    p = place(value, bands, rule.display)
    return AccountMeasure(
        key=key,
        label=rule.label,
        value=value,
        score=rules.scores[p.color],
        color=p.color,
        band=p.band,
        next_threshold=p.next_threshold,
        equal_weights=equal,
    )


def _empty_fields(key: str, rule: MeasureRule, reason: str, color: Color) -> dict[str, object]:
    m = empty(key, rule, reason, color)
    return {
        "key": m.key,
        "label": m.label,
        "value": None,
        "score": None,
        "color": m.color,
        "sentence": m.sentence,
        "reason": reason,
    }


def roll_up(
    account: AccountInfo,
    subscriptions: Sequence[SubscriptionInfo],
    instances: Mapping[int, InstanceInfo],
    rows: Sequence[UsageRow],
    month: date,
    rules: Rules,
    *,
    with_instances: bool = True,
    last_pings: Mapping[int, datetime | None] | None = None,
    versions: Mapping[int, str | None] | None = None,
) -> AccountMonth:
    """The account's measures, overall score and reporting share for `month` (rows of other months ignored).

    `with_instances=False` skips the per-instance views (trends need only the account values).
    """
    month = month.replace(day=1)
    subs_by_id = {s.id: s for s in subscriptions}
    month_subs = [s for s in subscriptions if active_in(s, month)]
    active = {s.id for s in month_subs}
    month_rows = [r for r in rows if r.snapshot_month == month]

    # Steps 2-3: eligible rows, grouped by (original subscription, delivery type).
    exclusions: list[Exclusion] = []
    grouped: dict[tuple[str, str], list[UsageRow]] = {}
    excluded_reason: dict[int, str] = {}
    seen_reasons: set[str] = set()
    for row in month_rows:
        if not with_instances:
            # Trends: only whether the row can be a primary matters, not the words for why not.
            if _eligible(row, active, rules):
                grouped.setdefault((row.subscription_id, row.delivery_type), []).append(row)
            continue
        why = _row_exclusion(row, subs_by_id, active, instances.get(row.instance_id), rules)
        if why is None:
            grouped.setdefault((row.subscription_id, row.delivery_type), []).append(row)
        else:
            if why not in seen_reasons:  # an instance serving two subscriptions is left out once
                seen_reasons.add(why)
                exclusions.append(Exclusion(why, row.subscription_id, row.instance_id))
            excluded_reason.setdefault(row.instance_id, why.split(": ", 1)[-1])
    exclusions.sort(key=lambda e: e.reason)

    customer_since = account.customer_since_date
    groups: list[_Group] = []
    for (sub_id, delivery), candidates in sorted(grouped.items()):
        primary = choose_primary(candidates)
        sub = subs_by_id[sub_id]
        groups.append(
            _Group(
                sub,
                delivery,
                primary,
                pinged_in(primary, month),
                score_row(primary, sub, customer_since, rules, explain=with_instances),
            )
        )
    grouped_subs = {g.subscription.id for g in groups}
    for sub in month_subs:
        if sub.id not in grouped_subs:
            exclusions.append(Exclusion(f"{sub.name}: no scored {rules.account.production_label} instance", sub.id))

    age = account_age(account, subscriptions, month)
    if with_instances:
        measures = {
            key: _account_measure(key, groups, exclusions, month_subs, age, instances, rules) for key in MEASURE_KEYS
        }
    else:
        measures = {key: _quick_account_measure(key, groups, month_subs, age, rules) for key in MEASURE_KEYS}
    overall = overall_of({k: m.score for k, m in measures.items()}, rules, explain=with_instances)

    # Step 8: share of the month's ARR (else of its subscriptions) that reports.
    reporting_ids = {g.subscription.id for g in groups if g.reporting}
    share: float | None = None
    if month_subs:
        total_arr = sum(s.arr or 0.0 for s in month_subs)
        if total_arr > 0:
            share = sum(s.arr or 0.0 for s in month_subs if s.id in reporting_ids) / total_arr
        else:
            share = sum(1 for s in month_subs if s.id in reporting_ids) / len(month_subs)

    # Each primary instance or namespace once, shown with its row that has the most billable users (a
    # namespace carrying a renewal and the subscription it renews has one set of users, not two).
    primaries: dict[int, UsageRow] = {}
    for g in groups:
        cur = primaries.get(g.primary.instance_id)
        if cur is None or primary_order(g.primary) < primary_order(cur):
            primaries[g.primary.instance_id] = g.primary
    sub_months = []
    for sub in month_subs:
        own = [g for g in groups if g.subscription.id == sub.id]
        p = own[0].primary if own else None
        reason = None
        if not own:
            reason = f"no scored {rules.account.production_label} instance"
        elif not any(g.reporting for g in own):
            reason = "not reporting this month"
        billable = [g.primary.billable_user_count for g in own if g.primary.billable_user_count is not None]
        sub_billable = sum(billable) if billable else None
        sub_months.append(
            SubscriptionMonth(
                info=sub,
                reporting=sub.id in reporting_ids,
                primary_instance_ids=tuple(g.primary.instance_id for g in own),
                billable_users=sub_billable,
                utilization=seat_ratio(sub_billable, sub.licensed_seats),
                months_since_start=months_between(customer_since or sub.start_date, month),
                excluded_reason=reason,
                license=own[0].measures["license_utilization"] if own else None,
                license_user_count=p.license_user_count if p else None,
            )
        )
    # Seats in use: each primary instance or namespace once, however many subscriptions it serves.
    counts = [r.billable_user_count for r in primaries.values() if r.billable_user_count is not None]
    seats = sum(s.licensed_seats for s in month_subs)
    billable_total = sum(counts) if counts else None
    pooled: dict[int, UsageRow] = {}
    for g in groups:
        if g.reporting:
            pooled.setdefault(g.primary.instance_id, primaries[g.primary.instance_id])

    inst_months: tuple[InstanceMonth, ...] = ()
    if with_instances:
        scored = {g.primary.instance_id: g.measures for g in groups}
        inst_months = _instance_months(
            instances,
            month_rows,
            primaries,
            scored,
            subs_by_id,
            customer_since,
            excluded_reason,
            rules,
            last_pings,
            versions,
        )
    return AccountMonth(
        month=month,
        measures=measures,
        overall=overall,
        reporting_share=share,
        subscriptions=tuple(sub_months),
        instances=inst_months,
        billable_users=billable_total,
        licensed_seats=seats,
        age_months=age,
        utilization=seat_ratio(billable_total, seats),
        reporting_primaries=tuple(pooled.values()),
    )


def _instance_months(
    instances: Mapping[int, InstanceInfo],
    month_rows: list[UsageRow],
    primaries: Mapping[int, UsageRow],
    scored: Mapping[int, Mapping[str, MeasureResult]],
    subs_by_id: Mapping[str, SubscriptionInfo],
    customer_since: date | None,
    excluded_reason: Mapping[int, str],
    rules: Rules,
    last_pings: Mapping[int, datetime | None] | None,
    versions: Mapping[int, str | None] | None,
) -> tuple[InstanceMonth, ...]:
    by_instance: dict[int, list[UsageRow]] = {}
    for r in month_rows:
        by_instance.setdefault(r.instance_id, []).append(r)
    out = []
    # A defined order that does not depend on database row ids: by name, then the warehouse identity.
    ordered = sorted(instances.items(), key=lambda kv: (describe_instance(kv[1], kv[0]).casefold(), kv[1].identity))
    for inst_id, inst in ordered:
        rows = by_instance.get(inst_id, [])
        row = primaries.get(inst_id) or (min(rows, key=primary_order) if rows else None)
        explained = True
        measures: dict[str, MeasureResult] | None
        overall: Overall | None = None
        if inst_id in scored:
            measures = dict(scored[inst_id])
        elif row is not None:
            # Not a primary: values and colours when first read, sentences on request (`InstanceMonth.explain`).
            measures = None
            explained = False
        else:
            measures = {k: empty(k, rules.measures[k], "no row for this instance this month") for k in MEASURE_KEYS}
        if measures is not None:
            overall = overall_of({k: m.score for k, m in measures.items()}, rules, explain=explained)
        reason = None if inst_id in primaries else excluded_reason.get(inst_id)
        if reason is None and inst_id not in primaries:
            reason = "no row this month" if row is None else "another instance is the subscription's primary"
        out.append(
            InstanceMonth(
                instance=inst,
                row=row,
                primary=inst_id in primaries,
                given_measures=measures,
                given_overall=overall,
                version=(versions or {}).get(inst_id) or (row.version if row else None) or inst.last_version,
                last_ping=(last_pings or {}).get(inst_id) or (row.ping_created_at if row else None),
                billable_users=row.billable_user_count if row else None,
                license_user_count=row.license_user_count if row else None,
                subscription_ids=tuple(sorted({r.subscription_id for r in rows})),
                excluded_reason=reason,
                explained=explained,
                subscription=subs_by_id.get(row.subscription_id) if row else None,
                customer_since=customer_since,
                rules=rules,
            )
        )
    return tuple(out)
