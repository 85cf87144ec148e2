"""Flags about what the customer bought and what the data can say: purchase intent, and why data is missing.

- `purchase_intent`: the account pays for a tier (Ultimate) whose measure (Security) is Red or has no
  data: the capabilities of that tier not in use this month are named.
- `operational_metrics_not_shared`: a Production instance that opted out of health measures, or that
  reports license data but no usage metric: it shares Subscription Data only (Cloud Licensing without
  Operational Metrics), so its use-case measures have no data, and a TAM needs to know why and what to do.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

from scoring.adoption import Adoption, FeatureUse
from scoring.adoption_rules import AdoptionRules
from scoring.model import AccountMonth, Flag, InstanceInfo, UsageRow
from scoring.rollup import describe_instance, pinged_in
from scoring.rules import Rules

# What the Health view says instead of a bare "No data" when an instance does not share its usage.
SUBSCRIPTION_DATA_ONLY = "Subscription Data only (license and version: Cloud Licensing without Operational Metrics)"
EXEMPTION = "This can be an agreed exemption in the customer's contract."
NOT_SHARED_ACTION = (
    "Check with the account team whether an exemption was agreed. If not, ask the customer's GitLab admin to "
    "turn on Operational Metrics (Service Ping, Admin Area > Settings > Metrics and profiling) and explain "
    "what it gives them: health scores, adoption trends and benchmarks. Until then, talk adoption through in "
    "your cadence calls."
)


def not_shared_message(name: str, why: str) -> str:
    no_data = "so its use-case measures have no data"
    return f"{name} shares {SUBSCRIPTION_DATA_ONLY}: {why}, {no_data}. {EXEMPTION} {NOT_SHARED_ACTION}"


def _names(features: Sequence[FeatureUse]) -> str:
    return ", ".join(f.label for f in features)


def purchase_intent_flag(current: AccountMonth, adoption: Adoption, rules: AdoptionRules) -> Flag | None:
    """The flag when an active subscription's tier contains the rules' tier and the measure is Red or empty."""
    intent = rules.purchase_intent
    if intent is None:
        return None
    paying = [s.info for s in current.subscriptions if intent.tier.casefold() in (s.info.tier or "").casefold()]
    if not paying:
        return None
    measure = current.measures.get(intent.measure)
    if measure is None or measure.color not in intent.colors:
        return None
    capabilities = [
        f
        for uc in adoption.use_cases.values()
        for f in uc.features
        if f.tier is not None and intent.tier.casefold() in f.tier.casefold()
    ]
    unused = [f for f in capabilities if f.state in ("not_used", "not_reported")]
    absent = [f for f in capabilities if f.state == "not_in_export"]
    subs = ", ".join(s.name for s in paying)
    state = "has no data" if measure.color == "No data" else f"is {measure.color}"
    msg = f"Pays for {intent.tier} ({subs}) but {measure.label} {state}"
    if unused:
        msg += f": {intent.tier} capabilities not used in {current.month:%Y-%m}: {_names(unused)}"
    elif capabilities and not absent:
        msg += f": every {intent.tier} capability is in use, by few users"
    if absent:
        msg += f" (not in the export: {_names(absent)})"
    msg += ". Adoption does not match what was bought: offer an enablement session on these before renewal."
    return Flag(
        "purchase_intent",
        msg,
        subscription_id=paying[0].id,
        details=tuple(f.label for f in unused),
    )


# Rules objects are frozen: their columns are worked out once per pair (the sync's scoring asks per account-month).
_OPERATIONAL: dict[tuple[int, int], tuple[Rules, AdoptionRules | None, frozenset[str]]] = {}


def operational_columns(health: Rules, adoption: AdoptionRules | None = None) -> frozenset[str]:
    """The usage-metric (Operational Metrics) columns the rules read: all but the license and user counts."""
    key = (id(health), id(adoption))
    hit = _OPERATIONAL.get(key)
    if hit is not None and hit[0] is health and hit[1] is adoption:
        return hit[2]
    columns = set(health.columns())
    if adoption is not None:
        columns |= adoption.columns()
    out = frozenset(columns - {health.account.license_count_column, health.account.billable_column})
    if len(_OPERATIONAL) > 32:
        _OPERATIONAL.clear()
    _OPERATIONAL[key] = (health, adoption, out)
    return out


def _shares_license_only(row: UsageRow, metrics: Collection[str]) -> bool:
    has_license = row.license_user_count is not None or row.billable_user_count is not None
    return has_license and all(row.value(c) is None for c in metrics)


def metrics_not_shared_flags(
    month: date,
    rows: Sequence[UsageRow],
    instances: Mapping[int, InstanceInfo],
    rules: Rules,
    metrics: Collection[str],
) -> tuple[Flag, ...]:
    """One flag per Production instance of `month` that opted out, or that pinged with license data but
    none of `metrics` (see `operational_columns`)."""
    month = month.replace(day=1)
    by_instance: dict[int, list[UsageRow]] = {}
    for r in rows:
        if r.snapshot_month == month:
            by_instance.setdefault(r.instance_id, []).append(r)
    flags = []
    for inst_id, own in sorted(by_instance.items()):
        inst = instances.get(inst_id)
        label = inst.label if inst is not None else own[0].label
        if label != rules.account.production_label:
            continue
        pinged = [r for r in own if pinged_in(r, month)]
        if any(r.opt_out for r in own):
            why = f"its rows are marked {rules.account.opt_out_value}"
        elif pinged and all(_shares_license_only(r, metrics) for r in pinged):
            why = "it reports license data but no usage metric"
        else:
            continue
        name = describe_instance(inst, inst_id)
        flags.append(
            Flag(
                "operational_metrics_not_shared",
                not_shared_message(name, why),
                instance_id=inst_id,
                subscription_id=own[0].subscription_id,
                details=(why,),
            )
        )
    return tuple(flags)


def adoption_flags(
    current: AccountMonth,
    adoption: Adoption,
    rows: Sequence[UsageRow],
    instances: Mapping[int, InstanceInfo],
    rules: Rules,
    adoption_rules: AdoptionRules,
) -> tuple[Flag, ...]:
    """The month's `operational_metrics_not_shared` flags, then `purchase_intent` (when raised)."""
    metrics = operational_columns(rules, adoption_rules)
    flags = list(metrics_not_shared_flags(current.month, rows, instances, rules, metrics))
    intent = purchase_intent_flag(current, adoption, adoption_rules)
    if intent is not None:
        flags.append(intent)
    return tuple(flags)
