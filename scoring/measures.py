"""Per instance, per month: the six measures of one usage row, with their explanations (docs/scoring.md)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from scoring.bands import fmt_banded, fmt_count, place, score_of
from scoring.model import (
    MEASURE_KEYS,
    NO_DATA,
    NOT_APPLICABLE,
    Color,
    MeasureResult,
    Overall,
    SubScore,
    SubscriptionInfo,
    UsageRow,
)
from scoring.rules import Band, Display, MeasureRule, Rules
from scoring.values import Computed, compute, value_only


def months_between(start: date, month: date) -> int:
    """Calendar months from `start` to `month`, days ignored (the warehouse's DATEDIFF(month, …))."""
    return (month.year - start.year) * 12 + (month.month - start.month)


def is_scored_row(row: UsageRow) -> bool:
    """Rows whose license user count is empty or 0 are not scored."""
    return bool(row.license_user_count)


def tier_applies(rule: MeasureRule, tier: str | None) -> bool:
    return rule.only_tiers_containing is None or (tier is not None and rule.only_tiers_containing in tier)


def deployment_applies(rule: MeasureRule, deployment_type: str) -> bool:
    return rule.only_deployment_types is None or deployment_type in rule.only_deployment_types


def phrase_text(phrase: str, c: Computed, display: Display, bands: tuple[Band, ...] | None = None) -> str:
    return phrase.format(num=fmt_count(c.num), den=fmt_count(c.den), value=fmt_banded(c.value, display, bands))


def sentence(label: str, color: Color, detail: str, next_threshold: str | None) -> str:
    if color in (NO_DATA, NOT_APPLICABLE):
        return f"{label}: {color} ({detail})" if detail else f"{label}: {color}"
    tail = f"; {next_threshold}" if next_threshold else ""
    return f"{label} is {color}: {detail}{tail}"


def empty(key: str, rule: MeasureRule, reason: str, color: Color = NO_DATA, **kw: object) -> MeasureResult:
    return MeasureResult(
        key=key,
        label=rule.label,
        value=None,
        score=None,
        color=color,
        sentence=sentence(rule.label, color, reason, None),
        reason=reason,
        **kw,  # type: ignore[arg-type]
    )


def _sub_scores(rule: MeasureRule, row: UsageRow, rules: Rules, explain: bool = True) -> tuple[SubScore, ...]:
    out = []
    for key, sub in (rule.sub_scores or {}).items():
        c = compute(sub.value, row, explain)
        if c.value is None:
            out.append(
                SubScore(
                    key,
                    sub.label,
                    None,
                    None,
                    NO_DATA,
                    c.inputs,
                    c.formula,
                    None,
                    None,
                    sentence(sub.label, NO_DATA, c.reason or "", None) if explain else "",
                )
            )
            continue
        p = place(c.value, sub.bands, sub.display)
        detail = phrase_text(sub.phrase, c, sub.display, sub.bands) if explain else ""
        out.append(
            SubScore(
                key,
                sub.label,
                c.value,
                score_of(p.color, rules),
                p.color,
                c.inputs,
                c.formula,
                p.band,
                p.next_threshold,
                sentence(sub.label, p.color, detail, p.next_threshold) if explain else "",
            )
        )
    return tuple(out)


def mean_sub_score(subs: tuple[SubScore, ...]) -> float | None:
    scores = [s.score for s in subs if s.score is not None]
    return sum(scores) / len(scores) if scores else None


def banded(
    key: str,
    rule: MeasureRule,
    value: float,
    bands: tuple[Band, ...],
    rules: Rules,
    detail: str,
    explain: bool = True,
    **kw: object,
) -> MeasureResult:
    p = place(value, bands, rule.display)
    return MeasureResult(
        key=key,
        label=rule.label,
        value=value,
        score=score_of(p.color, rules),
        color=p.color,
        band=p.band,
        next_threshold=p.next_threshold,
        sentence=sentence(rule.label, p.color, detail, p.next_threshold) if explain else "",
        shown=fmt_banded(value, rule.display, bands),
        **kw,  # type: ignore[arg-type]
    )


def age_reason(rule: MeasureRule, age: int | None) -> str:
    if age is None:
        return "no customer-since date or subscription start to tell the account's age"
    first = min((a.from_months for a in rule.age_bands or ()), default=0)
    if age < first:
        return f"not scored in the first {first} months as a customer (this is month {age})"
    return f"no band for an account {age} months old"


def score_measure(
    key: str,
    rule: MeasureRule,
    row: UsageRow,
    subscription: SubscriptionInfo | None,
    customer_since: date | None,
    rules: Rules,
    explain: bool = True,
) -> MeasureResult:
    if not explain:
        return _quick_measure(key, rule, row, subscription, customer_since, rules)
    if not is_scored_row(row):
        return empty(key, rule, "no license user count (empty or 0): the row is not scored")
    tier = subscription.tier if subscription else None
    if not tier_applies(rule, tier):
        return empty(key, rule, f"only for {rule.only_tiers_containing} subscriptions", NOT_APPLICABLE)
    if not deployment_applies(rule, row.deployment_type):
        only = ", ".join(rule.only_deployment_types or ())
        return empty(key, rule, f"measured only for {only} instances (this one is {row.deployment_type})")
    if rule.sub_scores is not None:
        subs = _sub_scores(rule, row, rules, explain)
        inputs = tuple(i for s in subs for i in s.inputs)
        formula = "mean of the non-empty sub-scores: " + ", ".join(s.label for s in subs) if explain else ""
        mean = mean_sub_score(subs)
        if mean is None:
            return empty(key, rule, "no sub-score has data", inputs=inputs, formula=formula, sub_scores=subs)
        parts = ", ".join(f"{s.label} {s.color}" for s in subs) if explain else ""
        detail = f"mean sub-score {fmt_banded(mean, 'number', rule.bands)} ({parts})" if explain else ""
        return banded(
            key, rule, mean, rule.bands or (), rules, detail, explain, inputs=inputs, formula=formula, sub_scores=subs
        )
    c = compute(rule.value, row, explain)  # type: ignore[arg-type]
    if c.value is None:
        return empty(key, rule, c.reason or "empty", inputs=c.inputs, formula=c.formula)
    since = customer_since or (subscription.start_date if subscription else None)
    age = months_between(since, row.snapshot_month) if since else None
    bands = rule.bands_for_age(age)
    detail = phrase_text(rule.phrase or "", c, rule.display, bands) if explain else ""
    if bands is None:
        reason = age_reason(rule, age)
        return MeasureResult(
            key=key,
            label=rule.label,
            value=c.value,
            score=None,
            color=NO_DATA,
            inputs=c.inputs,
            formula=c.formula,
            sentence=f"{rule.label}: {detail}; {reason}",
            reason=reason,
            shown=fmt_banded(c.value, rule.display),
        )
    return banded(key, rule, c.value, bands, rules, detail, explain, inputs=c.inputs, formula=c.formula)


_QUICK_EMPTY: dict[tuple[int, str, str], MeasureResult] = {}


def _quick_empty(key: str, rule: MeasureRule, reason: str, color: Color = NO_DATA) -> MeasureResult:
    # Results are immutable: one shared "empty" object per measure and reason is enough.
    cache_key = (id(rule), reason, color)
    hit = _QUICK_EMPTY.get(cache_key)
    if hit is None or hit.label != rule.label:
        hit = MeasureResult(key=key, label=rule.label, value=None, score=None, color=color, reason=reason)
        if len(_QUICK_EMPTY) > 10000:
            _QUICK_EMPTY.clear()
        _QUICK_EMPTY[cache_key] = hit
    return hit


def _quick_measure(
    key: str,
    rule: MeasureRule,
    row: UsageRow,
    subscription: SubscriptionInfo | None,
    customer_since: date | None,
    rules: Rules,
) -> MeasureResult:
    """Value, score and colour only (no sentences, inputs or sub-score objects): what trends need."""
    if not is_scored_row(row):
        return _quick_empty(key, rule, "no license user count")
    if not tier_applies(rule, subscription.tier if subscription else None):
        return _quick_empty(key, rule, f"only for {rule.only_tiers_containing} subscriptions", NOT_APPLICABLE)
    if not deployment_applies(rule, row.deployment_type):
        return _quick_empty(key, rule, "not measured for this deployment type")
    if rule.sub_scores is not None:
        scores = []
        for sub in rule.sub_scores.values():
            v = value_only(sub.value, row)
            if v is not None:
                scores.append(rules.scores[place(v, sub.bands, sub.display).color])
        if not scores:
            return _quick_empty(key, rule, "no sub-score has data")
        value = sum(scores) / len(scores)
        bands: tuple[Band, ...] | None = rule.bands
    else:
        v = value_only(rule.value, row)  # type: ignore[arg-type]
        if v is None:
            return _quick_empty(key, rule, "empty")
        value = v
        if rule.bands is not None:
            bands = rule.bands
        else:
            since = customer_since or (subscription.start_date if subscription else None)
            bands = rule.bands_for_age(months_between(since, row.snapshot_month) if since else None)
    if bands is None:
        return MeasureResult(key=key, label=rule.label, value=value, score=None, color=NO_DATA, reason="not scored")
    p = place(value, bands, rule.display)
    return MeasureResult(
        key=key,
        label=rule.label,
        value=value,
        score=rules.scores[p.color],
        color=p.color,
        band=p.band,
        next_threshold=p.next_threshold,
    )


def score_row(
    row: UsageRow,
    subscription: SubscriptionInfo | None,
    customer_since: date | None,
    rules: Rules,
    explain: bool = True,
) -> dict[str, MeasureResult]:
    """The six measures of one instance-month (`explain=False`: values and colours only, for trends)."""
    return {
        key: score_measure(key, rules.measures[key], row, subscription, customer_since, rules, explain)
        for key in MEASURE_KEYS
    }


def overall_of(scores: Mapping[str, float | None], rules: Rules, explain: bool = True) -> Overall:
    """Weighted sum of the non-empty scores, weights rescaled to sum to 1."""
    used = {k: rules.measures[k].weight for k in MEASURE_KEYS if scores.get(k) is not None}
    used = {k: w for k, w in used.items() if w > 0}
    total = sum(used.values())
    if not used or total <= 0:
        return Overall(None, NO_DATA, {}, "Product health: No data (no measure has a score)")
    score = sum(w * (scores[k] or 0.0) for k, w in used.items()) / total  # `used` holds only non-empty scores
    # Drop float noise (24.999999999999996 for all-Red): far below display precision, keeps [25, 88] exact.
    score = round(score, 9)
    weights = {k: w / total for k, w in used.items()}
    p = place(score, rules.overall.bands, "number")
    shown = fmt_banded(score, "score", rules.overall.bands)
    if not explain:
        return Overall(score, p.color, weights, shown=shown)
    dropped = [rules.measures[k].label for k in MEASURE_KEYS if k not in used]
    parts = ", ".join(f"{rules.measures[k].label} {w:.0%}" for k, w in weights.items())
    text = f"Product health is {p.color} ({shown}): weights {parts}"
    if dropped:
        text += f"; left out (no score): {', '.join(dropped)}"
    if p.next_threshold:
        text += f"; {p.next_threshold}"
    return Overall(score, p.color, weights, text, shown)
