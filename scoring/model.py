"""The scoring engine's inputs and results: frozen dataclasses, no I/O, no Slack types.

Inputs (`AccountInfo`, `SubscriptionInfo`, `InstanceInfo`, `UsageRow`) are built from the database by
`workflows.report`; results (`MeasureResult`, `AccountMeasure`, `Overall`, `AccountMonth`, `AccountReport`…)
are what the CLI and the Slack renderers show. Keep these shapes stable:
the CLI, the Slack features and `usagebot report --json` read them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from scoring.adoption import Adoption
    from scoring.rules import Rules
    from scoring.trends import SparkRow

Color = Literal["Red", "Yellow", "Green", "No data", "N/A"]
RED: Color = "Red"
YELLOW: Color = "Yellow"
GREEN: Color = "Green"
NO_DATA: Color = "No data"
NOT_APPLICABLE: Color = "N/A"

# The six measures of product health, in display order (keys of every `measures` mapping).
LICENSE_UTILIZATION = "license_utilization"
MEASURE_KEYS: tuple[str, ...] = (LICENSE_UTILIZATION, "user_engagement", "scm", "ci", "cd", "security")

FlagKind = Literal[
    "license_unmapped",
    "license_mismatch",
    "not_reporting",
    "stale",
    "no_production",
    "over_licensed",
    "version_behind",
    "purchase_intent",
    "operational_metrics_not_shared",
]


# ---------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class AccountInfo:
    id: str
    name: str
    customer_since_date: date | None = None
    tam_name: str | None = None
    tam_email: str | None = None
    sales_segment: str | None = None


@dataclass(frozen=True, slots=True)
class SubscriptionInfo:
    id: str  # dim_subscription_id_original
    name: str
    tier: str  # product_tier_name, e.g. "Self-Managed - Ultimate"
    delivery_type: str
    start_date: date
    end_date: date | None
    licensed_seats: int
    arr: float | None


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    id: int
    identity: str
    delivery_type: str
    deployment_type: str
    label: str  # current label (after any relabelling)
    label_source: str = "export"
    hostname: str | None = None
    installation_id: str | None = None
    namespace_id: str | None = None
    namespace_name: str | None = None
    last_ping_at: datetime | None = None  # sync summary: latest ping ever seen
    last_version: str | None = None
    last_seen_month: date | None = None  # sync summary: the latest month the instance has a row in

    @property
    def display_name(self) -> str:
        return instance_display_name(self.hostname, self.namespace_name, self.namespace_id, self.identity)


def instance_display_name(
    hostname: str | None, namespace_name: str | None, namespace_id: str | None, identity: str
) -> str:
    """What every view calls an instance: its hostname (self-managed), its namespace's name (GitLab.com),
    else "namespace <id>" (a bare number says nothing about what it is), else its warehouse identity."""
    if hostname:
        return hostname
    if namespace_name:
        return namespace_name
    if namespace_id:
        return f"namespace {namespace_id}"
    return identity


_USER_COUNTS = frozenset(("billable_user_count", "license_user_count"))


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One instance × subscription × month (the month's last ping, or none)."""

    snapshot_month: date  # first day of the month
    instance_id: int
    subscription_id: str
    delivery_type: str
    deployment_type: str
    ping_created_at: datetime | None
    billable_user_count: int | None
    license_user_count: int | None
    label: str  # the instance's current label, not the export's value for that month
    opt_out: bool  # included_in_health_measures_str == "Opt-Out"
    metrics: Mapping[str, float | None] = field(default_factory=dict)  # warehouse name -> value; absent = empty
    version: str | None = None
    license_mapped: bool | None = None

    def value(self, name: str) -> float | None:
        """A metric or user count by its warehouse column name; None = not reported."""
        # Metrics first: they are nearly every name asked for (this runs for every value of every measure).
        v = self.metrics.get(name)
        if v is not None and name not in _USER_COUNTS:
            return v if type(v) is float else float(v)
        if name == "billable_user_count":
            return None if self.billable_user_count is None else float(self.billable_user_count)
        if name == "license_user_count":
            return None if self.license_user_count is None else float(self.license_user_count)
        return None if v is None else float(v)


# --------------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class InputValue:
    """A metric that fed a measure, with its value (None = not reported)."""

    name: str  # warehouse column name
    label: str  # what it counts, in words
    value: float | None


@dataclass(frozen=True, slots=True)
class SubScore:
    """A CD or Security sub-score of one instance-month."""

    key: str
    label: str
    value: float | None
    score: int | None
    color: Color
    inputs: tuple[InputValue, ...]
    formula: str
    band: str | None  # the band the value fell in, e.g. "0.05 to 0.12"
    next_threshold: str | None  # what the next colour up needs; None when Green or empty
    sentence: str


@dataclass(frozen=True, slots=True)
class MeasureResult:
    """One measure of one instance-month (or of the account, as `AccountMeasure`)."""

    key: str  # one of MEASURE_KEYS
    label: str
    value: float | None  # the ratio, or the mean sub-score for CD and Security
    score: int | None  # 25 / 63 / 88, None when empty
    color: Color
    inputs: tuple[InputValue, ...] = ()
    formula: str = ""
    band: str | None = None
    next_threshold: str | None = None
    sub_scores: tuple[SubScore, ...] = ()
    sentence: str = ""
    reason: str | None = None  # why there is no score, when there is none
    shown: str = ""  # the value as displayed beside its colour (never rounded across a band edge)


@dataclass(frozen=True, slots=True)
class Contribution:
    """A primary instance-month that fed an account value, with the weight it got."""

    subscription_id: str
    instance_id: int
    value: float
    arr: float | None
    weight: float  # normalised: the contributions of one measure sum to 1
    sentence: str = ""  # the primary instance's own explanation of this measure


@dataclass(frozen=True, slots=True)
class Exclusion:
    """Something left out of a roll-up, and why (in words a TAM understands)."""

    reason: str
    subscription_id: str | None = None
    instance_id: int | None = None


@dataclass(frozen=True, slots=True)
class AccountMeasure(MeasureResult):
    used: tuple[Contribution, ...] = ()
    left_out: tuple[Exclusion, ...] = ()
    equal_weights: bool = False  # True when the ARR weights summed to 0


@dataclass(frozen=True, slots=True)
class Overall:
    score: float | None  # weighted sum of the non-empty scores, in [25, 88]
    color: Color
    weights_used: Mapping[str, float] = field(default_factory=dict)  # measure key -> rescaled weight
    sentence: str = ""
    shown: str = ""  # the score as displayed everywhere: one decimal, more only where an edge needs it


@dataclass(frozen=True, slots=True, eq=False)
class InstanceMonth:
    """One instance in the month shown: its row, its own measures, whether it is a primary."""

    instance: InstanceInfo
    row: UsageRow | None  # the row shown (the primary one, else the one with most billable users)
    primary: bool
    # `measures` and `overall` (properties below). None for an instance that is not a primary: its values and
    # colours are worked out from `row` when first read (`rules` given), since most views of many accounts
    # never read them.
    given_measures: Mapping[str, MeasureResult] | None
    given_overall: Overall | None
    version: str | None
    last_ping: datetime | None  # latest ping up to the end of the month shown
    billable_users: int | None
    license_user_count: int | None
    subscription_ids: tuple[str, ...]
    excluded_reason: str | None = None  # why it does not count for the account, if it does not
    # `measures` of instances that are not a primary carry values and colours only (cheap for long
    # instance lists); `explain(rules)` gives them with sentences, inputs and sub-scores on request.
    explained: bool = True
    subscription: SubscriptionInfo | None = None  # the shown row's subscription
    customer_since: date | None = None
    rules: Rules | None = field(default=None, repr=False)

    @property
    def measures(self) -> Mapping[str, MeasureResult]:
        if self.given_measures is None:
            self._work_out()
        assert self.given_measures is not None
        return self.given_measures

    @property
    def overall(self) -> Overall:
        if self.given_overall is None:
            self._work_out()
        assert self.given_overall is not None
        return self.given_overall

    def _work_out(self) -> None:
        from scoring.measures import overall_of, score_row

        assert self.row is not None and self.rules is not None
        measures = score_row(self.row, self.subscription, self.customer_since, self.rules, explain=False)
        overall = overall_of({k: m.score for k, m in measures.items()}, self.rules, explain=False)
        # Frozen to readers; filled once (two threads filling it at once compute the same values).
        object.__setattr__(self, "given_measures", measures)
        object.__setattr__(self, "given_overall", overall)

    def _key(self) -> tuple[Any, ...]:
        return (
            self.instance,
            self.row,
            self.primary,
            self.measures,
            self.overall,
            self.version,
            self.last_ping,
            self.billable_users,
            self.license_user_count,
            self.subscription_ids,
            self.excluded_reason,
            self.explained,
            self.subscription,
            self.customer_since,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InstanceMonth):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]  # as before: `measures` is a dict

    def explain(self, rules: Rules) -> Mapping[str, MeasureResult]:
        """The measures with their full explanations."""
        if self.explained or self.row is None:
            return self.measures
        from scoring.measures import score_row

        return score_row(self.row, self.subscription, self.customer_since, rules)


@dataclass(frozen=True, slots=True)
class SubscriptionMonth:
    info: SubscriptionInfo
    reporting: bool
    primary_instance_ids: tuple[int, ...]  # one per delivery type; usually one
    billable_users: int | None  # of the primary instance(s)
    utilization: float | None  # seats in use: billable users / this subscription's licensed seats
    months_since_start: int  # age used for the license utilization band
    excluded_reason: str | None = None  # why it does not feed the roll-up, if it does not
    # The primary's License utilization (band for its age, what the next colour needs); None without a primary.
    # This is the health measure (billable users / the license's user count in Service Ping), not `utilization`.
    license: MeasureResult | None = None
    license_user_count: int | None = None  # the primary's license user count, as Service Ping reported it

    @property
    def primary_instance_id(self) -> int | None:
        return self.primary_instance_ids[0] if self.primary_instance_ids else None


@dataclass(frozen=True, slots=True)
class AccountMonth:
    """The account roll-up of one month (docs/scoring.md, account steps 1-8)."""

    month: date
    measures: Mapping[str, AccountMeasure]
    overall: Overall
    reporting_share: float | None
    subscriptions: tuple[SubscriptionMonth, ...]
    instances: tuple[InstanceMonth, ...]
    billable_users: int | None  # each distinct primary instance or namespace once, however many subscriptions
    licensed_seats: int  # sum of licensed_seats over the month's active subscriptions
    age_months: int | None  # account age used for the license band: the customer's age in months
    utilization: float | None = None  # seats in use: billable_users / licensed_seats (None without seats)
    # The primary rows of the reporting subscriptions, one per instance: what account-wide pooled
    # figures (user adoption, features in use) sum over.
    reporting_primaries: tuple[UsageRow, ...] = ()


@dataclass(frozen=True, slots=True)
class Flag:
    kind: FlagKind
    message: str  # tells the TAM what to do
    instance_id: int | None = None
    subscription_id: str | None = None
    details: tuple[str, ...] = ()  # the items the message names (e.g. the unused capabilities)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    month: date
    value: float | None
    score: float | None
    color: Color
    change: float | None  # value minus the previous month's value; None when either is empty


@dataclass(frozen=True, slots=True)
class Trends:
    months: tuple[date, ...]  # oldest first, up to 12, ending with the month shown
    measures: Mapping[str, tuple[TrendPoint, ...]]  # measure key -> series
    overall: tuple[TrendPoint, ...]
    billable_users: tuple[TrendPoint, ...]
    licensed_seats: tuple[TrendPoint, ...]
    utilization: tuple[TrendPoint, ...]  # billable users / licensed seats, account-wide
    # subscription id -> its primary's billable users / license user count, month by month.
    subscription_utilization: Mapping[str, tuple[TrendPoint, ...]] = field(default_factory=dict)
    # The account roll-up of each month, oldest first: what other monthly series (adoption) are drawn from.
    rolled: tuple[AccountMonth, ...] = ()


@dataclass(frozen=True, slots=True)
class SeatTotals:
    """The account's seats in use: `billable_users` of `seats`, and the ratio (None without seats)."""

    seats: int
    billable_users: int | None
    utilization: float | None


@dataclass(frozen=True, slots=True)
class AccountReport:
    """Everything `/usage acme` and `usagebot report` show for one account and month."""

    account: AccountInfo
    as_of: date | None
    month: date
    rules_name: str
    current: AccountMonth
    flags: tuple[Flag, ...]
    # Builds the 12-month trends on first use (`report.trends`): the JSON answer never needs them,
    # the summary card and trend views do, and they cost as much as the month itself.
    trends_builder: Callable[[], Trends]
    newest_version: str | None = None  # the newest version any instance reported in `month`
    behind: Mapping[int, int | None] = field(default_factory=dict)  # instance id -> minor versions behind newest
    ratio_keys: tuple[str, ...] = ()  # measures shown as a percentage (their sparklines draw values on 0–100%)
    # User adoption of the month shown (no series); `adoption` adds the 12-month series on first use.
    adoption_now: Adoption | None = None
    adoption_builder: Callable[[Trends], Adoption] | None = None
    # Metrics Dictionary descriptions of the adoption rules' key paths (those imported).
    definitions: Mapping[str, str] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def totals(self) -> SeatTotals:
        """Seats in use (not the health measure): licensed seats, billable users, their ratio."""
        c = self.current
        return SeatTotals(c.licensed_seats, c.billable_users, c.utilization)

    @property
    def sparklines(self) -> tuple[SparkRow, ...]:
        """The 12-month rows every view draws: same series, same fixed scale, same labels."""
        from scoring.trends import spark_rows

        labels = {k: m.label for k, m in self.current.measures.items()}
        return spark_rows(self.trends, labels, self.ratio_keys)

    @property
    def customer_months(self) -> int | None:
        """How long the account has been a customer, in calendar months (the license band's age)."""
        return self.current.age_months

    @property
    def trends(self) -> Trends:
        hit = self._cache.get("trends")
        if hit is None:
            hit = self._cache["trends"] = self.trends_builder()
        return hit

    @property
    def adoption(self) -> Adoption | None:
        """User adoption with each ratio's 12-month series (built from the trends on first use)."""
        if self.adoption_now is None or self.adoption_builder is None:
            return self.adoption_now
        hit = self._cache.get("adoption")
        if hit is None:
            hit = self._cache["adoption"] = self.adoption_builder(self.trends)
        return hit

    # Shortcuts to the month shown.
    @property
    def measures(self) -> Mapping[str, AccountMeasure]:
        return self.current.measures

    @property
    def overall(self) -> Overall:
        return self.current.overall

    @property
    def reporting_share(self) -> float | None:
        return self.current.reporting_share

    @property
    def subscriptions(self) -> tuple[SubscriptionMonth, ...]:
        return self.current.subscriptions

    @property
    def instances(self) -> tuple[InstanceMonth, ...]:
        return self.current.instances
