"""A page of `/usage mine` or `/usage team`: the scope's accounts a filter keeps, worst first.

The filter and the order are `workflows.portfolio_filter`'s; the figures are the portfolio's
(`workflows.portfolio`). What this adds is reading no more than the page needs.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.orm import Session

from scoring.rules import Rules
from workflows.portfolio import (
    Portfolio,
    Scope,
    cached_portfolio,
    cached_ranking,
    page_bounds,
    ranked_accounts,
    worst_first_key,
)
from workflows.portfolio_filter import ListingPage, PortfolioFilter, listing
from workflows.report import rules_for


def listing_page(
    session: Session,
    scope: Scope,
    emails: Collection[str] | None,
    filt: PortfolioFilter,
    number: int,
    size: int,
    rules: Rules | str | None = None,
) -> ListingPage:
    """A page of the scope's listing, read from the remembered ranking (the Home tab's): the filter and the
    order apply to every account's narrow stored figures, and only the page's accounts are read in full, so a
    whole book answers in a fraction of a second. A scope with accounts not stored yet, or a tier, flag or
    License utilization word over rows stored before those columns were kept, takes the whole portfolio.
    Both give the same page."""
    rules = rules_for(rules)
    ranking = cached_ranking(session, scope, emails, rules)
    if isinstance(ranking, Portfolio):
        return listing(ranking, filt).page_view(number, size)
    if filt.needs_later_columns and not ranking.has_tiers_and_flags:
        return listing(cached_portfolio(session, scope, emails, rules), filt).page_view(number, size)
    infos = ranking.infos
    chosen = [
        a
        for a in ranking.accounts
        if filt.holds(a.health_color, a.measures, infos[a.id].sales_segment, a.tiers or (), a.flag_kinds or ())
    ]
    # Stable, from the need order as `listing` sorts from `Portfolio.accounts`: ties fall the same way.
    chosen.sort(key=lambda a: worst_first_key(a.health_color, a.health_score, infos[a.id].name))
    shown, pages, (lo, hi) = page_bounds(len(chosen), number, size)
    accounts = ranked_accounts(session, ranking, chosen[lo:hi], rules)
    return ListingPage(scope, ranking.as_of, len(ranking.accounts), len(chosen), filt, shown, pages, accounts)
