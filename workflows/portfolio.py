"""A portfolio of accounts at a glance (App Home): a TAM's, a manager's team's, or every account.

Each account's figures are its stored scores of the month (`workflows.scores`: the report `/usage` computes,
stored by the sync), read in one query; an account without a current stored row is computed live by the same
code, so the colours agree with `/usage` either way. Sorted by need:
product health Red first, then Yellow, Green, No data; within a colour, accounts not using what they pay for
(`purchase_intent`) first, then lowest utilization first.

Managers' teams come from the `CS_MANAGERS` setting: `manager_email:tam_email,tam_email;manager2:…`
(emails, any case). CS-ops admins (`CS_OPS_ADMINS`) may see every account.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Literal, NamedTuple, Protocol

from sqlalchemy.orm import Session

from db.queries.account_data import (
    AccountData,
    load_account_infos,
    normalise_emails,
)
from db.queries.health import data_as_of, data_stamp
from db.queries.portfolio import alert_counts, data_fingerprint
from db.queries.scores import read_ranks
from scoring.adoption_rules import AdoptionRules
from scoring.model import GREEN, MEASURE_KEYS, RED, YELLOW, AccountInfo, Color, Flag
from scoring.rules import Rules
from scoring.stored import StoredScore, has_purchase_intent, rules_fingerprint
from workflows.managers import ManagersError, parse_managers
from workflows.report import adoption_rules_for, rules_for
from workflows.scores import ScoringContext, read_scores, score_live, score_month

__all__ = ["ManagersError", "parse_managers"]  # re-exported: the Home tab reads teams through here

Scope = Literal["mine", "team", "all"]
SCOPES: tuple[Scope, ...] = ("mine", "team", "all")
USE_CASES: tuple[tuple[str, str], ...] = (("scm", "SCM"), ("ci", "CI"), ("cd", "CD"), ("security", "Security"))
_NEED_ORDER: dict[str, int] = {RED: 0, YELLOW: 1, GREEN: 2}
# Portfolios of at least this many accounts are kept in memory until the data changes (see `cached_portfolio`).
CACHE_MIN_ACCOUNTS = 1000
_CACHE_SIZE = 8


@dataclass(frozen=True)
class Viewer:
    """Who is looking, and what they may see."""

    user_id: str
    email: str | None
    is_admin: bool = False
    team: frozenset[str] = frozenset()  # TAM emails of the viewer's team, when they manage one

    @property
    def is_manager(self) -> bool:
        return bool(self.team)

    def scopes(self, has_own: bool) -> tuple[Scope, ...]:
        """The views this person may switch between, in the order of the buttons."""
        out: list[Scope] = []
        if has_own:
            out.append("mine")
        if self.is_manager:
            out.append("team")
        if self.is_admin:
            out.append("all")
        return tuple(out)

    @property
    def wide_scope(self) -> Scope | None:
        """The widest view beyond their own: every account for an admin, the team for a manager, else None."""
        if self.is_admin:
            return "all"
        return "team" if self.is_manager else None

    def emails_for(self, scope: Scope) -> frozenset[str] | None:
        """TAM emails of a scope (None = every account)."""
        if scope == "all":
            return None
        if scope == "team":
            return self.team | ({self.email.lower()} if self.email else set())
        return frozenset({self.email.lower()}) if self.email else frozenset()


def need_key(
    health_color: str, purchase_intent: bool, utilization: float | None, name: str
) -> tuple[int, bool, int, float, str]:
    """The Home order: product health Red first; within a colour, accounts not using what they paid for come
    first (enablement before renewal), then the lowest utilization, then the name."""
    return (
        _NEED_ORDER.get(health_color, 3),
        not purchase_intent,
        utilization is None,
        utilization if utilization is not None else 0.0,
        name.lower(),
    )


def worst_first_key(health_color: str, health_score: float | None, name: str) -> tuple[int, bool, float, str]:
    """`/usage mine`'s and `/usage team`'s order: overall colour (Red first), then the lowest health score, then
    the name."""
    return (
        _NEED_ORDER.get(health_color, 3),
        health_score is None,
        health_score if health_score is not None else 0.0,
        name.lower(),
    )


@dataclass(frozen=True)
class PortfolioAccount:
    id: str
    name: str
    tam_name: str | None
    tam_email: str | None
    billable_users: int | None  # seats in use: each primary instance or namespace once
    licensed_seats: int  # the month's active subscriptions
    utilization: float | None  # billable_users / licensed_seats (not the health measure)
    utilization_color: Color
    health_color: Color
    health_score: float | None
    use_cases: Mapping[str, Color]  # "scm", "ci", "cd", "security"
    unknown_instances: int
    flags: tuple[Flag, ...]
    reporting_share: float | None
    alerts: int = 0  # alerts this month, when alert records exist
    measures: Mapping[str, Color] = field(default_factory=dict)  # the six measures' colours (MEASURE_KEYS)
    segment: str | None = None  # the account's sales segment
    tiers: tuple[str, ...] = ()  # product tiers of the month's subscriptions
    health_shown: str = ""  # the score as every view shows it
    license_shown: str = ""  # the license utilization health measure as shown beside its colour

    @property
    def purchase_intent(self) -> bool:
        """Pays for Ultimate while its Security measure is Red or empty (the `purchase_intent` flag)."""
        return has_purchase_intent(self.flags)

    def need_key(self) -> tuple[int, bool, int, float, str]:
        return need_key(self.health_color, self.purchase_intent, self.utilization, self.name)

    def worst_first_key(self) -> tuple[int, bool, float, str]:
        return worst_first_key(self.health_color, self.health_score, self.name)


@dataclass(frozen=True)
class Totals:
    accounts: int
    red: int
    yellow: int
    green: int
    no_data: int
    unknown_instances: int
    alerts: int | None  # None when alerts are not recorded in this installation
    purchase_intent: int = 0  # accounts paying for Ultimate whose Security is Red or has no data


@dataclass(frozen=True)
class Portfolio:
    scope: Scope
    emails: frozenset[str] | None  # TAM emails shown (None = all accounts)
    as_of: date | None
    month: date
    accounts: tuple[PortfolioAccount, ...]  # sorted by need
    totals: Totals

    def page(self, number: int, size: int) -> tuple[int, int, tuple[PortfolioAccount, ...]]:
        """(page shown, page count, accounts of that page); out-of-range pages are clamped."""
        number, pages, (lo, hi) = page_bounds(len(self.accounts), number, size)
        return number, pages, self.accounts[lo:hi]

    def page_view(self, number: int, size: int) -> PortfolioPage:
        shown, pages, accounts = self.page(number, size)
        return PortfolioPage(self.scope, self.as_of, self.month, self.totals, shown, pages, accounts)


@dataclass(frozen=True)
class PortfolioPage:
    """One page of a portfolio, as the Home tab shows it: the scope's totals and the page's accounts."""

    scope: Scope
    as_of: date | None
    month: date
    totals: Totals
    number: int  # the page shown (clamped)
    pages: int
    accounts: tuple[PortfolioAccount, ...]


def page_bounds(count: int, number: int, size: int) -> tuple[int, int, tuple[int, int]]:
    pages = max(1, -(-count // size))
    number = min(max(1, number), pages)
    return number, pages, ((number - 1) * size, number * size)


class RankedAccount(NamedTuple):
    """An account of a ranking: its narrow stored figures, enough to sort, count and filter on colours."""

    id: str
    health_color: str
    purchase_intent: bool
    utilization: float | None
    unknown_instances: int
    alerts: int
    health_score: float | None
    measures: Mapping[str, str | None]  # the colours of the measures stored in narrow columns
    tiers: tuple[str, ...] | None  # the month's product tiers (None: a stored row from before they were kept)
    flag_kinds: frozenset[str] | None  # the kinds of the account's flags (None: likewise)


@dataclass(frozen=True)
class Ranking:
    """A portfolio sorted by need and counted from the stored scores' narrow columns, every account of the
    scope having a current stored row: only a page's figures are read in full (`ranked_page`)."""

    scope: Scope
    emails: frozenset[str] | None
    as_of: date | None
    month: date
    fingerprint: str
    infos: Mapping[str, AccountInfo]
    accounts: tuple[RankedAccount, ...]  # sorted by need, as `Portfolio.accounts`
    totals: Totals

    @cached_property
    def has_tiers_and_flags(self) -> bool:
        """Every account's stored row holds its tiers and flag kinds (rows written before they were kept do not)."""
        return all(a.tiers is not None and a.flag_kinds is not None for a in self.accounts)


def score_account(
    data: AccountData,
    month: date,
    rules: Rules,
    newest: str | None,
    alerts: int = 0,
    adoption: AdoptionRules | None = None,
    export_columns: frozenset[str] | None = None,
) -> PortfolioAccount:
    """One account's line of the portfolio, computed live: the stored figures' computation (`score_month`:
    the same computed report `/usage` renders) on `data`, whose rows must cover the trend window."""
    adopt = adoption or adoption_rules_for(None)
    ctx = ScoringContext(rules, adopt, rules_fingerprint(rules, adopt), export_columns, {month: newest})
    return portfolio_account(data.account, score_month(data, month, ctx), alerts)


def portfolio_account(account: AccountInfo, score: StoredScore, alerts: int = 0) -> PortfolioAccount:
    """One account's line of the portfolio from its stored (or just computed) figures."""
    m = score.measures
    return PortfolioAccount(
        id=account.id,
        name=account.name,
        tam_name=account.tam_name,
        tam_email=account.tam_email,
        billable_users=score.billable_users,
        licensed_seats=score.licensed_seats,
        utilization=score.utilization,
        utilization_color=m["license_utilization"].color,
        health_color=score.overall_color,
        health_score=score.overall_score,
        use_cases={k: m[k].color for k, _ in USE_CASES},
        unknown_instances=score.unknown_instances,
        flags=score.flags,
        reporting_share=score.reporting_share,
        alerts=alerts,
        measures={k: m[k].color for k in MEASURE_KEYS},
        segment=account.sales_segment,
        tiers=score.tiers,
        health_shown=score.overall_shown,
        license_shown=m["license_utilization"].shown,
    )


class Counted(Protocol):
    """What the totals count of an account: a portfolio's line, or a ranked account's narrow figures."""

    @property
    def health_color(self) -> str: ...
    @property
    def unknown_instances(self) -> int: ...
    @property
    def alerts(self) -> int: ...
    @property
    def purchase_intent(self) -> bool: ...


def totals_of(accounts: Sequence[Counted], alerts_known: bool) -> Totals:
    def count(color: str) -> int:
        return sum(1 for a in accounts if a.health_color == color)

    return Totals(
        accounts=len(accounts),
        red=count(RED),
        yellow=count(YELLOW),
        green=count(GREEN),
        no_data=sum(1 for a in accounts if a.health_color not in (RED, YELLOW, GREEN)),
        unknown_instances=sum(a.unknown_instances for a in accounts),
        alerts=sum(a.alerts for a in accounts) if alerts_known else None,
        purchase_intent=sum(1 for a in accounts if a.purchase_intent),
    )


def build_portfolio(
    session: Session,
    scope: Scope,
    emails: Collection[str] | None,
    month: date | None = None,
    rules: Rules | str | None = None,
) -> Portfolio:
    """Every account of the scope for `month` (default: the data's as-of month), sorted by need.

    The figures are the stored scores of the month (written by the sync, `workflows.scores`); an account
    without a current row (an older month, other rules) is computed live the same way.
    """
    rules = rules_for(rules)
    adoption = adoption_rules_for(None)
    stamp = data_stamp(session)
    as_of = data_as_of(session, stamp)
    month = (month or as_of or date.today()).replace(day=1)
    wanted = None if emails is None else frozenset(normalise_emails(emails))
    infos = load_account_infos(session, emails=wanted)
    fingerprint = rules_fingerprint(rules, adoption)
    scores = read_scores(session, month, None if wanted is None else list(infos), fingerprint)
    missing = [acc_id for acc_id in infos if acc_id not in scores]
    if missing:
        scores.update(score_live(session, missing, month, rules, adoption, stamp))
    alerts = alert_counts(session, wanted, month)
    accounts = [
        portfolio_account(info, scores[acc_id], (alerts or {}).get(acc_id, 0))
        for acc_id, info in infos.items()
        if acc_id in scores
    ]
    accounts.sort(key=PortfolioAccount.need_key)
    return Portfolio(
        scope=scope,
        emails=wanted,
        as_of=as_of,
        month=month,
        accounts=tuple(accounts),
        totals=totals_of(accounts, alerts is not None),
    )


def rank_portfolio(
    session: Session,
    scope: Scope,
    emails: Collection[str] | None,
    rules: Rules | str | None = None,
) -> Ranking | Portfolio:
    """The as-of month's accounts of the scope sorted and counted from the stored narrow columns; when an
    account has no current stored row (other rules, not scored yet), the whole portfolio as `build_portfolio`
    computes it. The same order and totals as `build_portfolio` either way."""
    rules = rules_for(rules)
    adoption = adoption_rules_for(None)
    stamp = data_stamp(session)
    as_of = data_as_of(session, stamp)
    month = (as_of or date.today()).replace(day=1)
    wanted = None if emails is None else frozenset(normalise_emails(emails))
    infos = load_account_infos(session, emails=wanted)
    fingerprint = rules_fingerprint(rules, adoption)
    ranks = read_ranks(session, month, None if wanted is None else list(infos), fingerprint)
    if any(acc_id not in ranks for acc_id in infos):
        return build_portfolio(session, scope, wanted, month, rules)
    alerts = alert_counts(session, wanted, month)
    counts = alerts or {}
    accounts = []
    for acc_id in infos:
        r = ranks[acc_id]
        alerts_of = counts.get(acc_id, 0)
        accounts.append(
            RankedAccount(
                acc_id, r.health_color, r.purchase_intent, r.utilization, r.unknown_instances, alerts_of,
                r.health_score, r.colors, r.tiers, r.flag_kinds,
            )
        )  # fmt: skip
    accounts.sort(key=lambda a: need_key(a.health_color, a.purchase_intent, a.utilization, infos[a.id].name))
    return Ranking(
        scope=scope,
        emails=wanted,
        as_of=as_of,
        month=month,
        fingerprint=fingerprint,
        infos=infos,
        accounts=tuple(accounts),
        totals=totals_of(accounts, alerts is not None),
    )


def ranked_page(session: Session, ranking: Ranking | Portfolio, number: int, size: int, rules: Rules) -> PortfolioPage:
    """A page of a ranking: its accounts' stored figures read in full (an account whose row went missing since
    the ranking was made is computed live)."""
    if isinstance(ranking, Portfolio):
        return ranking.page_view(number, size)
    shown, pages, (lo, hi) = page_bounds(len(ranking.accounts), number, size)
    accounts = ranked_accounts(session, ranking, ranking.accounts[lo:hi], rules)
    return PortfolioPage(ranking.scope, ranking.as_of, ranking.month, ranking.totals, shown, pages, accounts)


def ranked_accounts(
    session: Session, ranking: Ranking, chosen: Sequence[RankedAccount], rules: Rules
) -> tuple[PortfolioAccount, ...]:
    """The full lines of some accounts of a ranking, in the order given: their stored figures read (an account
    whose row went missing since the ranking was made is computed live)."""
    ids = [a.id for a in chosen]
    scores = read_scores(session, ranking.month, ids, ranking.fingerprint)
    missing = [acc_id for acc_id in ids if acc_id not in scores]
    if missing:
        scores.update(score_live(session, missing, ranking.month, rules, adoption_rules_for(None)))
    return tuple(portfolio_account(ranking.infos[a.id], scores[a.id], a.alerts) for a in chosen if a.id in scores)


def home_page(
    session: Session,
    scope: Scope,
    emails: Collection[str] | None,
    number: int,
    size: int,
    rules: Rules | str | None = None,
    *,
    min_accounts: int | None = None,
) -> PortfolioPage:
    """A page of the scope's portfolio for the Home tab: the ranking is remembered like `cached_portfolio`
    (large scopes, until the data changes), the page's figures are read each time."""
    rules = rules_for(rules)
    ranking = cached_ranking(session, scope, emails, rules, min_accounts=min_accounts)
    return ranked_page(session, ranking, number, size, rules)


def cached_ranking(
    session: Session,
    scope: Scope,
    emails: Collection[str] | None,
    rules: Rules | str | None = None,
    *,
    min_accounts: int | None = None,
) -> Ranking | Portfolio:
    """`rank_portfolio`, remembered like `cached_portfolio` (large scopes, until the data changes)."""
    rules = rules_for(rules)
    wanted = None if emails is None else frozenset(normalise_emails(emails))
    if scope == "mine":
        return rank_portfolio(session, scope, wanted, rules)
    return _remembered(
        _cache_key(session, "rank", scope, wanted, rules),
        lambda: rank_portfolio(session, scope, wanted, rules),
        min_accounts,
    )


_cache: OrderedDict[tuple[object, ...], Portfolio | Ranking] = OrderedDict()
_cache_lock = threading.Lock()
_building: dict[tuple[object, ...], threading.Lock] = {}


def cached_portfolio(
    session: Session,
    scope: Scope,
    emails: Collection[str] | None,
    rules: Rules | str | None = None,
    *,
    min_accounts: int | None = None,
) -> Portfolio:
    """`build_portfolio` for the as-of month, remembered while the data stays the same.

    Scoring every account (an admin's "all accounts" at 20,000 accounts) takes seconds; paging through it
    must not redo that. The key holds a fingerprint of the data (sync runs, relabels, alerts, counts), so a
    sync or a relabel is seen at once. Small portfolios are cheap and always built fresh, and a TAM's own
    ("mine") skips even the fingerprint. Per process: each web worker builds its own once.
    """
    rules = rules_for(rules)
    wanted = None if emails is None else frozenset(normalise_emails(emails))
    if scope == "mine":
        return build_portfolio(session, scope, wanted, rules=rules)
    found = _remembered(
        _cache_key(session, "full", scope, wanted, rules),
        lambda: build_portfolio(session, scope, wanted, rules=rules),
        min_accounts,
    )
    assert isinstance(found, Portfolio)
    return found


def _remembered(
    key: tuple[object, ...], build: Callable[[], Portfolio | Ranking], min_accounts: int | None
) -> Portfolio | Ranking:
    # One build per key at a time: several people (or refresh threads) asking at once wait for the first.
    with _cache_lock:
        building = _building.setdefault(key, threading.Lock())
    with building:
        with _cache_lock:
            hit = _cache.get(key)
            if hit is not None:
                _cache.move_to_end(key)
                return hit
        built = build()
        with _cache_lock:
            if len(built.accounts) >= (CACHE_MIN_ACCOUNTS if min_accounts is None else min_accounts):
                _cache[key] = built
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
            _building.pop(key, None)
    return built


def clear_portfolio_cache() -> None:
    """Forget every remembered portfolio (tests whose databases reuse ids and counts call this)."""
    with _cache_lock:
        _cache.clear()


def _cache_key(
    session: Session, kind: str, scope: Scope, wanted: frozenset[str] | None, rules: Rules
) -> tuple[object, ...]:
    url = str(session.get_bind().engine.url)
    return (url, kind, scope, wanted, rules.name, id(rules), data_fingerprint(session))


def is_cached(session: Session, scope: Scope, emails: Collection[str] | None, rules: Rules | str | None = None) -> bool:
    """Whether `home_page` would rank the scope from memory (the Home tab shows "loading" otherwise)."""
    rules = rules_for(rules)
    wanted = None if emails is None else frozenset(normalise_emails(emails))
    key = _cache_key(session, "rank", scope, wanted, rules)
    with _cache_lock:
        return key in _cache
