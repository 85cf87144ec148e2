"""App Home views (pure): a portfolio page, the guide for people without accounts, and a refusal for guests.

A Home tab holds 100 blocks (`bot/blocks/limits.py`). A page holds `PAGE_SIZE` accounts at 3 blocks each plus
a fixed header and footer, so it always fits; `fit_home` checks it on every page built here.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.blocks.format import (
    actions,
    button,
    color_text,
    context,
    data_as_of,
    divider,
    escape,
    header,
    seats_text,
    section,
)
from bot.blocks.ids import encode_value
from bot.blocks.limits import check_limits, fit_to_limits
from workflows.portfolio import USE_CASES, PortfolioAccount, PortfolioPage, Scope

PAGE_SIZE = 25  # 25 accounts x 3 blocks + at most 8 header/footer blocks = 83 <= 100

# Action ids (bot/features/home/actions.py listens to these).
ACTION_VIEW = "home_view"  # value: scope
ACTION_PAGE_PREV = "home_page_prev"  # value: {"scope": …, "page": n}
ACTION_PAGE_NEXT = "home_page_next"
ACTION_OPEN = "home_open"  # action id "home_open:<summary|health|instances>", value: account id
OPEN_VIEWS: tuple[tuple[str, str], ...] = (("summary", "Summary"), ("health", "Health"), ("instances", "Instances"))

SCOPE_TITLE: dict[str, str] = {"mine": "Your accounts", "team": "Your team's accounts", "all": "All accounts"}
_SCOPE_BUTTON: dict[str, str] = {"mine": "My accounts", "team": "My team", "all": "All accounts"}
_FLAG_WORDS: dict[str, str] = {
    "license_unmapped": "license not linked",
    "license_mismatch": "license seats differ",
    "not_reporting": "not reporting",
    "stale": "stale data",
    "no_production": "no Production instance",
    "over_licensed": "over licensed",
    "version_behind": "version behind",
    "purchase_intent": "paid-for capabilities unused",
    "operational_metrics_not_shared": "usage data not shared",
}


def utilization_text(a: PortfolioAccount) -> str:
    """'84 of 200 seats (42%)' in people's numbers (the same words as `/usage`)."""
    if a.licensed_seats <= 0 and a.billable_users is None:
        return "no active subscription this month"
    return seats_text(a.billable_users, a.licensed_seats, a.utilization)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


def flags_text(a: PortfolioAccount) -> str | None:
    if not a.flags:
        return None
    counts = Counter(f.kind for f in a.flags)
    parts = [_FLAG_WORDS.get(k, k.replace("_", " ")) + (f" ({n})" if n > 1 else "") for k, n in counts.items()]
    return "⚠️ " + ", ".join(parts)


def account_blocks(a: PortfolioAccount, scope: Scope) -> list[dict[str, Any]]:
    """Three blocks per account: the facts, the buttons, a divider."""
    score = f" ({a.health_shown})" if a.health_shown else ""
    lines = [f"*{escape(a.name)}*  ·  product health {color_text(a.health_color)}{score}"]
    util = f"Seats in use: {utilization_text(a)}"
    if a.utilization_color in ("Red", "Yellow", "Green"):
        shown = f" {a.license_shown}" if a.license_shown else ""
        util += f"  ·  license utilization {color_text(a.utilization_color)}{shown}"
    if a.reporting_share is not None and a.reporting_share < 1:
        util += f"  ·  {a.reporting_share:.0%} of ARR reporting"
    lines.append(util)
    lines.append("  ·  ".join(f"{label} {color_text(a.use_cases[key])}" for key, label in USE_CASES))
    extra = []
    if a.unknown_instances:
        extra.append(f"❔ {_plural(a.unknown_instances, 'Unknown instance')}")
    flags = flags_text(a)
    if flags:
        extra.append(flags)
    if a.alerts:
        extra.append(f"🔔 {_plural(a.alerts, 'alert')} this month")
    if scope != "mine" and (a.tam_name or a.tam_email):
        extra.append(f"TAM: {escape(a.tam_name or a.tam_email or '')}")
    if extra:
        lines.append("  ·  ".join(extra))
    buttons = [button(label, f"{ACTION_OPEN}:{key}", a.id) for key, label in OPEN_VIEWS]
    return [
        section("\n".join(lines), block_id=f"home_acct:{a.id}"),
        actions(buttons, block_id=f"home_btn:{a.id}"),
        divider(),
    ]


def totals_text(p: PortfolioPage) -> str:
    t = p.totals
    parts = [
        f"*{_plural(t.accounts, 'account')}*",
        f"🔴 {t.red:,} Red",
        f"🟡 {t.yellow:,} Yellow",
        f"🟢 {t.green:,} Green",
    ]
    if t.no_data:
        parts.append(f"⚪ {t.no_data:,} No data")
    parts.append(f"❔ {_plural(t.unknown_instances, 'Unknown instance')}")
    if t.purchase_intent:
        parts.append(f"💰 {t.purchase_intent:,} with purchase intent")
    if t.alerts is not None:
        parts.append(f"🔔 {_plural(t.alerts, 'alert')} this month")
    return "  ·  ".join(parts)


def _page_value(scope: Scope, page: int) -> str:
    return encode_value(scope=scope, page=page)


def render_home(portfolio: PortfolioPage, scopes: tuple[Scope, ...]) -> dict[str, Any]:
    """The Home tab for one page of a portfolio; `scopes` are the views this person may switch to."""
    shown, pages, accounts = portfolio.number, portfolio.pages, portfolio.accounts
    as_of = data_as_of(portfolio.as_of, bold=True)
    sorted_by = (
        f"{as_of[0].upper()}{as_of[1:]}  ·  sorted by need: product health Red first, then purchase intent, "
        "then lowest utilization"
    )
    if pages > 1:
        sorted_by += f"  ·  page {shown} of {pages}"
    blocks: list[dict[str, Any]] = [
        header(SCOPE_TITLE[portfolio.scope]),
        context(sorted_by),
        section(totals_text(portfolio), block_id="home_totals"),
    ]
    if len(scopes) > 1:
        blocks.append(
            actions(
                [
                    button(_SCOPE_BUTTON[s], f"{ACTION_VIEW}:{s}", s, "primary" if s == portfolio.scope else None)
                    for s in scopes
                ],
                block_id="home_scopes",
            )
        )
    blocks.append(divider())
    if not accounts:
        blocks.append(section("No accounts to show in this view."))
    for a in accounts:
        blocks.extend(account_blocks(a, portfolio.scope))
    if pages > 1:
        nav = []
        if shown > 1:
            nav.append(button("◀ Previous", ACTION_PAGE_PREV, _page_value(portfolio.scope, shown - 1)))
        if shown < pages:
            nav.append(button("Next ▶", ACTION_PAGE_NEXT, _page_value(portfolio.scope, shown + 1)))
        blocks.append(actions(nav, block_id="home_pages"))
    blocks.append(context("Type `/usage ACCOUNT` anywhere for the details of one account."))
    return {"type": "home", "blocks": fit_home(blocks), "private_metadata": _page_value(portfolio.scope, shown)}


def render_guide(email: str | None) -> dict[str, Any]:
    """For someone who is not a TAM of any account: what the bot does and how to use it."""
    looked = (
        f"No account lists you ({escape(email)}) as its TAM, so there is no portfolio to show."
        if email
        else "We could not read your email address from Slack, so we cannot find accounts you own."
    )
    text = (
        "*usagebot* shows customers' product usage, license utilization and product health.\n\n"
        "• `/usage ACCOUNT`: summary card (utilization, health, SCM / CI / CD / Security, instances, flags)\n"
        "• `/usage ACCOUNT health`: why each colour is what it is, and what the next one needs\n"
        "• `/usage ACCOUNT utilization`, `instances`, `versions`, `trends`: the details\n"
        "• `/usage request-metric`: ask Product Analytics for a metric the data doesn't have yet\n"
        "• `/usage help`: more examples"
    )
    blocks = [header("Welcome to usagebot"), section(text), divider(), context(looked)]
    return {"type": "home", "blocks": fit_home(blocks)}


def render_refusal(reason: str) -> dict[str, Any]:
    """Guests and people from other workspaces never see customer data: the guard's reason, nothing else."""
    return {"type": "home", "blocks": fit_home([header("usagebot"), section(reason)])}


def render_unavailable() -> dict[str, Any]:
    """When the portfolio cannot be built right now (database unreachable): a calm note, no traceback."""
    blocks = [
        header("usagebot"),
        section(
            ":warning: Your portfolio can't be loaded right now. It has been logged; please open this tab again "
            "in a minute. `/usage ACCOUNT` works the same way once the data is back."
        ),
    ]
    return {"type": "home", "blocks": fit_home(blocks)}


def render_loading(accounts: int, scope: Scope) -> dict[str, Any]:
    """Shown while a large portfolio is scored for the first time since the data changed."""
    blocks = [
        header(SCOPE_TITLE[scope]),
        section(f":hourglass_flowing_sand: Scoring {accounts:,} accounts… this takes a few seconds the first time."),
    ]
    return {"type": "home", "blocks": fit_home(blocks)}


def fit_home(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The blocks within a Home tab's limits; a page that would not fit is a bug here, never the user's
    fault, so it fails loudly (tests build every kind of page)."""
    fitted = fit_to_limits(blocks, surface="home")
    problems = check_limits(fitted, "home")
    if problems:
        raise AssertionError("; ".join(problems))
    return fitted
