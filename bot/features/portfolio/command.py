"""`/usage mine [filters]` and `/usage team [filters]`: the person's accounts (or their team's, or every account
for CS Operations admins), worst first, one line each, a page at a time.

The rows come from the one portfolio computation (`workflows.portfolio`, also behind the Home tab);
`workflows.portfolio_filter` narrows and orders them, `workflows.portfolio_listing` reads a page of them (from the
Home tab's remembered ranking when the filter allows); `bot.features.portfolio.blocks` draws the page.
Who may see which accounts is the Home tab's rule (`bot.features.home.events.viewer_for`, `Viewer.wide_scope`).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from bot.errors import slack_text
from bot.features.portfolio.blocks import PAGE_SIZE, render_filter_help, render_listing
from bot.features.usage.blocks import Answer, message
from workflows.portfolio import Scope, Viewer
from workflows.portfolio_filter import FilterError, known_flags, parse_filters
from workflows.portfolio_listing import listing_page
from workflows.settings import Settings

SCOPE_WORDS = ("mine", "team")
NOT_A_MANAGER = (
    ":lock: `/usage team` is for managers listed in `CS_MANAGERS` (their team's accounts) and CS Operations "
    "admins (every account). `/usage mine` lists your own accounts."
)
NO_EMAIL = ":warning: I couldn't read your email address from Slack, so I can't tell which accounts are yours."


def scope_for(viewer: Viewer, scope_word: str) -> Scope | None:
    """The portfolio scope behind what was typed, or None when this person may not see it."""
    if scope_word == "team":
        return viewer.wide_scope
    return "mine" if viewer.email else None


def portfolio_answer(
    session: Session,
    settings: Settings,
    viewer: Viewer,
    scope_word: str,
    words: Sequence[str],
    page: int = 1,
) -> Answer:
    """The answer to `/usage mine|team [filters]` for this viewer (no Slack: also what `usagebot try` prints)."""
    if [w.lower() for w in words] in (["help"], ["?"]):
        return render_filter_help(scope_word, known_flags())
    scope = scope_for(viewer, scope_word)
    if scope is None:
        return message(NOT_A_MANAGER if scope_word == "team" else NO_EMAIL)
    try:
        filt = parse_filters(words, known_flags())
    except FilterError as exc:
        return message(slack_text(exc))
    found = listing_page(session, scope, viewer.emails_for(scope), filt, page, PAGE_SIZE, settings.scoring_rules)
    return render_listing(found, scope_word)
