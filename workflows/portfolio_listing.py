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
    Ranking,
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
    """A page of the scope's listing. A filter the ranking's narrow figures settle (`PortfolioFilter.narrow`)
    is applied to the remembered ranking (the Home tab's), and only the page's accounts are read in full: a
    whole book answers in a fraction of a second. Any other filter, or a scope with accounts not stored yet,
    takes the whole portfolio. Both give the same page."""
    rules = rules_for(rules)
    ranking = cached_ranking(session, scope, emails, rules) if filt.narrow else None
    if not isinstance(ranking, Ranking):
        portfolio = ranking if isinstance(ranking, Portfolio) else cached_portfolio(session, scope, emails, rules)
        return listing(portfolio, filt).page_view(number, size)
    infos = ranking.infos
    chosen = [a for a in ranking.accounts if filt.holds(a.health_color, a.measures, infos[a.id].sales_segment)]
    # Stable, from the need order as `listing` sorts from `Portfolio.accounts`: ties fall the same way.
    chosen.sort(key=lambda a: worst_first_key(a.health_color, a.health_score, infos[a.id].name))
    shown, pages, (lo, hi) = page_bounds(len(chosen), number, size)
    accounts = ranked_accounts(session, ranking, chosen[lo:hi], rules)
    return ListingPage(scope, ranking.as_of, len(ranking.accounts), len(chosen), filt, shown, pages, accounts)
