"""User adoption of one account-month: ratios over monthly active users and the features of each use case.

Pooled, not averaged: every figure sums its metric over the month's reporting primary instances and
namespaces (the ones the health measures use, each counted once), so a ratio is
Σ numerator / Σ active users over the primaries that report both. Empty is not 0, and a column the
export does not have at all is said to be "not in the export", never shown as 0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal

from scoring.adoption_rules import AdoptionRules, Feature, Ratio
from scoring.bands import fmt_count
from scoring.model import AccountMonth, UsageRow

FeatureState = Literal["in_use", "not_used", "not_reported", "not_in_export"]
STATE_WORDS: Mapping[str, str] = {
    "in_use": "in use",
    "not_used": "not used",
    "not_reported": "not reported",
    "not_in_export": "not in the export",
}


@dataclass(frozen=True, slots=True)
class RatioPoint:
    month: date
    value: float | None


@dataclass(frozen=True, slots=True)
class AdoptionRatio:
    """One ratio of one month: users who did something / monthly active users, pooled."""

    key: str
    label: str
    numerator: str  # warehouse column
    denominator: str  # the active-users column
    value: float | None  # None = no value (see `reason`)
    users: float | None  # Σ numerator over the primaries that report both
    active_users: float | None  # Σ active users over the same primaries
    instance_ids: tuple[int, ...]  # the primaries that counted
    reason: str | None  # why there is no value
    not_in_export: tuple[str, ...] = ()  # columns of this ratio the export does not have
    sentence: str = ""
    key_path: str | None = None
    series: tuple[RatioPoint, ...] = ()  # oldest first, ending with this month (filled by `with_series`)


@dataclass(frozen=True, slots=True)
class FeatureUse:
    key: str
    label: str
    metric: str
    state: FeatureState
    value: float | None  # Σ over the primaries reporting it; None when none does
    tier: str | None = None
    key_path: str | None = None

    @property
    def state_words(self) -> str:
        return STATE_WORDS[self.state]


@dataclass(frozen=True, slots=True)
class UseCaseFeatures:
    key: str
    label: str
    features: tuple[FeatureUse, ...]

    def having(self, *states: FeatureState) -> tuple[FeatureUse, ...]:
        return tuple(f for f in self.features if f.state in states)


@dataclass(frozen=True, slots=True)
class Adoption:
    """The adoption picture of one account-month."""

    month: date
    ratios: Mapping[str, AdoptionRatio]  # in the rules file's order
    use_cases: Mapping[str, UseCaseFeatures]  # in the rules file's order
    instance_ids: tuple[int, ...]  # the reporting primaries pooled
    rules_name: str = ""
    months: tuple[date, ...] = field(default=())  # the series' months, oldest first


def _present(column: str, export_columns: Collection[str] | None) -> bool:
    return export_columns is None or column in export_columns


def _sum(rows: Sequence[UsageRow], column: str) -> float | None:
    values = [v for r in rows if (v := r.value(column)) is not None]
    return sum(values) if values else None


def pooled_rows(current: AccountMonth) -> tuple[UsageRow, ...]:
    """The month's reporting primary rows, one per instance (what the health measures use)."""
    return current.reporting_primaries


def ratio_of(
    key: str,
    ratio: Ratio,
    rows: Sequence[UsageRow],
    rules: AdoptionRules,
    export_columns: Collection[str] | None = None,
) -> AdoptionRatio:
    """Σ numerator / Σ active users over the rows reporting both; None when none does or Σ active users is 0."""
    num_col, den_col = ratio.numerator, rules.active_users
    missing = (
        ()
        if export_columns is None
        else tuple(c for c in dict.fromkeys((num_col, den_col)) if not _present(c, export_columns))
    )
    common = {
        "key": key,
        "label": ratio.label,
        "numerator": num_col,
        "denominator": den_col,
        "key_path": ratio.key_path,
    }
    if missing:
        reason: str | None = " and ".join(missing) + (" is" if len(missing) == 1 else " are") + " not in the export"
        return AdoptionRatio(
            **common,  # type: ignore[arg-type]
            value=None,
            users=None,
            active_users=None,
            instance_ids=(),
            reason=reason,
            not_in_export=missing,
            sentence=f"{ratio.label}: {reason}",
        )
    # Each row's pair read once: (numerator, active users, row) for the rows reporting both.
    both = [
        (n, d, r) for r in rows if (n := r.value(num_col)) is not None and (d := r.value(den_col)) is not None
    ]
    users = sum(n or 0.0 for n, _, _ in both) if both else None
    active = sum(d or 0.0 for _, d, _ in both) if both else None
    reason = None
    if not rows:
        reason = "no reporting primary instance or namespace this month"
    elif not both:
        reason = f"no reporting primary instance reports both {num_col} and {den_col}"
    elif not active:
        reason = f"{den_col} is 0 (no monthly active users)"
    value = None if reason else users / active  # type: ignore[operator]
    if value is None:
        sentence = f"{ratio.label}: no data ({reason})"
    else:
        sentence = (
            f"{ratio.label}: {fmt_count(users)} of {fmt_count(active)} monthly active users {ratio.phrase} "
            f"({value:.0%})"
        )
    return AdoptionRatio(
        **common,  # type: ignore[arg-type]
        value=value,
        users=users,
        active_users=active,
        instance_ids=tuple(r.instance_id for _, _, r in both),
        reason=reason,
        sentence=sentence,
    )


def feature_use(
    key: str,
    feature: Feature,
    tier: str | None,
    rows: Sequence[UsageRow],
    export_columns: Collection[str] | None = None,
) -> FeatureUse:
    """In use when the metric summed over the rows is above 0; not used when reported and 0."""
    metric = feature.metric
    if not _present(metric, export_columns):
        return FeatureUse(key, feature.label, metric, "not_in_export", None, tier, feature.key_path)
    total = _sum(rows, metric)
    state: FeatureState = "not_reported" if total is None else "in_use" if total > 0 else "not_used"
    return FeatureUse(key, feature.label, metric, state, total, tier, feature.key_path)


_Plan = tuple[tuple[str, str, tuple[tuple[str, Feature, str | None], ...]], ...]
_PLANS: dict[int, tuple[AdoptionRules, _Plan]] = {}


def _use_case_plan(rules: AdoptionRules) -> _Plan:
    """Each use case's (key, label, ((feature key, feature, tier), ...)), once per (cached, immutable) rules."""
    hit = _PLANS.get(id(rules))
    if hit is not None and hit[0] is rules:
        return hit[1]
    plan = tuple(
        (k, uc.label, tuple((fk, f, uc.tier_of(f)) for fk, f in uc.features.items()))
        for k, uc in rules.use_cases.items()
    )
    if len(_PLANS) > 100:
        _PLANS.clear()
    _PLANS[id(rules)] = (rules, plan)  # holding `rules` keeps its id from being reused
    return plan


def adoption_of(
    month: date,
    rows: Sequence[UsageRow],
    rules: AdoptionRules,
    export_columns: Collection[str] | None = None,
) -> Adoption:
    """Every ratio and use case of the rules for one month's pooled rows (`pooled_rows(current)`).

    `export_columns`: the metric columns the export has; None when unknown (every column counts as present).
    """
    ratios = {k: ratio_of(k, r, rows, rules, export_columns) for k, r in rules.ratios.items()}
    use_cases = {
        k: UseCaseFeatures(k, label, tuple(feature_use(fk, f, tier, rows, export_columns) for fk, f, tier in features))
        for k, label, features in _use_case_plan(rules)
    }
    return Adoption(month, ratios, use_cases, tuple(r.instance_id for r in rows), rules.name, (month,))


def ratio_values(
    rows: Sequence[UsageRow], rules: AdoptionRules, export_columns: Collection[str] | None = None
) -> dict[str, float | None]:
    """Only the ratio values of one month (the series' points)."""
    return {k: ratio_of(k, r, rows, rules, export_columns).value for k, r in rules.ratios.items()}


def with_series(
    adoption: Adoption,
    months: Sequence[AccountMonth],
    rules: AdoptionRules,
    export_columns: Collection[str] | None = None,
) -> Adoption:
    """`adoption` with each ratio's monthly series over `months` (oldest first, e.g. the trends' 12)."""
    points = [(am.month, ratio_values(pooled_rows(am), rules, export_columns)) for am in months]
    ratios = {
        k: _replace_series(r, tuple(RatioPoint(m, values.get(k)) for m, values in points))
        for k, r in adoption.ratios.items()
    }
    return Adoption(
        adoption.month,
        ratios,
        adoption.use_cases,
        adoption.instance_ids,
        adoption.rules_name,
        tuple(am.month for am in months),
    )


def _replace_series(r: AdoptionRatio, series: tuple[RatioPoint, ...]) -> AdoptionRatio:
    return replace(r, series=series)
