"""The one computed report of an account and month: every view renders it, none recomputes a figure.

`compute_report` is pure: the account's inputs in, `AccountReport` out (roll-up, flags, versions behind,
seat totals, and the 12-month trends on demand). `workflows.report` feeds it from the database for
`/usage` and `usagebot report`; the portfolio (Home), alerts and digests call it too.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date

from scoring.adoption import Adoption, adoption_of, pooled_rows, with_series
from scoring.adoption_flags import adoption_flags
from scoring.adoption_rules import AdoptionRules
from scoring.flags import account_flags, latest_pings, latest_versions, minors_behind, sort_flags
from scoring.model import AccountInfo, AccountReport, InstanceInfo, SubscriptionInfo, Trends, UsageRow
from scoring.rollup import roll_up
from scoring.rules import Rules
from scoring.trends import add_months, build_trends


def compute_report(
    account: AccountInfo,
    subscriptions: Sequence[SubscriptionInfo],
    instances: Mapping[int, InstanceInfo],
    rows: Sequence[UsageRow],
    month: date,
    rules: Rules,
    *,
    as_of: date | None,
    newest_version: str | None,
    adoption_rules: AdoptionRules | None = None,
    exported: Collection[str] | None = None,
    definitions: Mapping[str, str] | None = None,
) -> AccountReport:
    """Score the account for `month` with explanations, flags, versions behind and (lazily) trends.

    `rows` are the account's usage rows of the trend window ending with `month`; `newest_version` is the
    newest GitLab version any instance reported in `month` (every "newest" and "behind" uses it).
    """
    month = month.replace(day=1)
    # Instances seen in the trend window: older ones are history, not part of this month's picture. The sync's
    # summary (last month seen) answers it too, so a caller that loads fewer months (Home) sees the same ones.
    start = add_months(month, -(rules.trend_months - 1))
    seen = {r.instance_id for r in rows} | {
        i for i, inst in instances.items() if inst.last_seen_month and start <= inst.last_seen_month <= month
    }
    shown = {i: inst for i, inst in instances.items() if i in seen}
    pings = latest_pings(rows, shown, month)
    versions = latest_versions(rows, month)
    current = roll_up(account, subscriptions, shown, rows, month, rules, last_pings=pings, versions=versions)
    flags = account_flags(current, rows, shown, newest_version, rules, pings)
    adoption: Adoption | None = None
    if adoption_rules is not None:
        adopt = adoption_rules
        adoption = adoption_of(month, pooled_rows(current), adopt, exported)
        flags = sort_flags(flags + adoption_flags(current, adoption, rows, shown, rules, adopt))
    behind = {i.instance.id: minors_behind(i.version, newest_version, rules) for i in current.instances}

    def adoption_series(trends: Trends) -> Adoption:
        assert adoption is not None and adoption_rules is not None
        return with_series(adoption, trends.rolled, adoption_rules, exported)

    return AccountReport(
        account=account,
        as_of=as_of,
        month=month,
        rules_name=rules.name,
        current=current,
        flags=flags,
        trends_builder=lambda: build_trends(account, subscriptions, shown, rows, current, rules),
        newest_version=newest_version,
        behind=behind,
        ratio_keys=tuple(k for k, rule in rules.measures.items() if rule.display == "percent"),
        adoption_now=adoption,
        adoption_builder=adoption_series if adoption is not None else None,
        definitions=definitions or {},
    )
