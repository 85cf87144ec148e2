"""`/usage mine` and `/usage team` answers (pure): one line per account, worst first, a page at a time.

A page holds `PAGE_SIZE` accounts, one section each (its Summary button beside it), plus a header, a
context line and the page buttons: 20 + 4 blocks, well within a message's 50. Every name is escaped.
"""

from __future__ import annotations

from bot.blocks import ids
from bot.blocks.format import actions, button, color_text, context, data_as_of, escape, header, section
from bot.blocks.limits import check_limits, clip, fit_to_limits
from bot.features.home.blocks import SCOPE_TITLE, flags_text, utilization_text
from bot.features.usage.blocks import Answer
from workflows.portfolio import PortfolioAccount
from workflows.portfolio_filter import ListingPage, help_lines
from workflows.wording import plural

PAGE_SIZE = 20
# The six measures in the summary card's order, with the short names the filters accept.
MEASURES: tuple[tuple[str, str], ...] = (
    ("license_utilization", "Utilization"),
    ("user_engagement", "Engagement"),
    ("scm", "SCM"),
    ("ci", "CI"),
    ("cd", "CD"),
    ("security", "Security"),
)


def account_line(a: PortfolioAccount, show_tam: bool) -> str:
    """Two or three lines of mrkdwn: name and health, the six colours, utilization and flags."""
    score = f" ({a.health_shown})" if a.health_shown else ""
    first = f"*{escape(a.name)}*  ·  health {color_text(a.health_color)}{score}"
    if show_tam and (a.tam_name or a.tam_email):
        first += f"  ·  TAM {escape(a.tam_name or a.tam_email)}"
    colours = "  ".join(f"{label} {color_text(a.measures.get(key))}" for key, label in MEASURES)
    last = f"Seats in use: {utilization_text(a)}"
    flags = flags_text(a)
    if flags:
        last += f"  ·  {escape(flags)}"
    return "\n".join((first, colours, last))


def render_listing(found: ListingPage, scope_word: str) -> Answer:
    """One page of the listing; `scope_word` is what was typed ("mine" or "team"), kept on the page buttons."""
    shown, pages, accounts = found.number, found.pages, found.accounts
    title = SCOPE_TITLE.get(found.scope, "Accounts")
    filt = f" matching `{escape(found.filter.text)}`" if found.filter.words else ""
    summary = (
        f"*{found.matching:,}* of {plural(found.in_scope, 'account')}{filt}  ·  "
        f"{data_as_of(found.as_of, bold=True)}  ·  "
        "worst first (overall health, then score)"
    )
    if pages > 1:
        summary += f"  ·  page {shown} of {pages}"
    blocks = [header(title), context(summary)]
    offset = (shown - 1) * PAGE_SIZE
    for n, a in enumerate(accounts):
        blocks.append(
            section(
                account_line(a, show_tam=found.scope != "mine"),
                block_id=clip(f"usage_list_acct:{a.id}", 255),
                accessory=button("Summary", ids.pick_action(offset + n), ids.encode_value(a=a.id, v="summary", k=1)),
            )
        )
    if not accounts:
        blocks.append(section(_nothing(found, scope_word)))
    nav = []
    words = clip(found.filter.text, 300)
    if shown > 1:
        nav.append(
            button(
                "◀ Previous", ids.LIST_PAGE_ACTION_PREFIX + "prev", ids.encode_value(s=scope_word, f=words, p=shown - 1)
            )
        )
    if shown < pages:
        nav.append(
            button("Next ▶", ids.LIST_PAGE_ACTION_PREFIX + "next", ids.encode_value(s=scope_word, f=words, p=shown + 1))
        )
    footer = [actions(nav, block_id="usage_list_pages")] if nav else []
    footer.append(context(f"`/usage {scope_word} help` lists the filters, e.g. `/usage {scope_word} red ci:red`."))
    blocks = fit_to_limits(blocks, footer=footer)
    problems = check_limits(blocks)
    if problems:  # a bug here, never the user's fault: fail loudly in tests
        raise AssertionError("; ".join(problems))
    text = f"{title}: {plural(found.matching, 'account')}{' matching ' + found.filter.text if filt else ''}"
    return Answer(text=clip(text, 3000), blocks=blocks, ok=False)


def _nothing(found: ListingPage, scope_word: str) -> str:
    if not found.in_scope:
        if found.scope == "mine":
            return "No account lists you as its TAM (your Slack email is matched with the export's TAM email)."
        return "No accounts in this view yet."
    return f"No account matches `{escape(found.filter.text)}`. `/usage {scope_word}` alone lists them all."


def render_filter_help(scope_word: str, flags: list[str], note: str | None = None) -> Answer:
    lines = [
        *([note, ""] if note else []),
        f"*`/usage {scope_word}`* lists {'your' if scope_word == 'mine' else 'your team’s'} accounts, worst first. "
        "Add filters, any number, e.g. `/usage mine red ci:red tier:ultimate`:",
        *("• " + line for line in help_lines(flags)),
    ]
    return Answer(text=f"/usage {scope_word} filters", blocks=fit_to_limits([section("\n".join(lines))]), ok=False)
