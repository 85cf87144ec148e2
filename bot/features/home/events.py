"""App Home: `app_home_opened` publishes the person's portfolio; `refresh_home*` re-publish it after changes.

Who sees what: the accounts whose `tam_email` is the person's Slack email ("mine"); a manager listed in
`CS_MANAGERS` may switch to their team's accounts; a CS-ops admin (`CS_OPS_ADMINS`) to all accounts.
Someone with none of these gets a short guide; guests and other workspaces' users a refusal.
Each publish remembers (in `home_viewers`) what the person looked at, so refreshes after a sync or a
relabel re-publish the same view and page, and know whom to refresh.

Hooks for other features (never raise; failures are logged):
- `refresh_home(client, user_ids, settings=…)`: re-publish for these Slack users (None = everyone who
  opened the Home tab in the last 90 days), e.g. after a sync.
- `refresh_home_for_accounts(client, account_ids, settings=…)`: re-publish for the accounts' TAMs who have
  a Home tab and their managers' team views; `refresh_home_later(...)` does it in a background thread
  (what a relabel click calls, so the click's own answer is not delayed).
- `refresh_home_after_sync(settings)`: after `usagebot sync` succeeds (does nothing without a bot token).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient
from sqlalchemy import and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import guard
from bot.app import deps_of
from bot.features.home.blocks import (
    PAGE_SIZE,
    render_guide,
    render_home,
    render_loading,
    render_refusal,
    render_unavailable,
)
from db.models import Account, HomeViewer
from db.queries.portfolio import count_accounts, has_accounts
from db.session import session_scope
from scoring.rules import RulesError
from workflows import portfolio as portfolio_rules
from workflows.portfolio import (
    SCOPES,
    Scope,
    Viewer,
    cached_portfolio,
    is_cached,
    parse_managers,
)
from workflows.settings import Settings, get_settings

log = logging.getLogger("usagebot.home")

REFRESH_RECENT = timedelta(days=90)
REFRESH_THREADS = 4


@dataclass(frozen=True)
class Published:
    user_id: str
    kind: str  # "portfolio" | "guide" | "refused" | "unavailable"
    scope: Scope | None = None
    page: int = 1
    accounts: int = 0
    server_ms: float = 0.0  # time spent building the view (database + scoring + rendering)


def viewer_for(client: WebClient, settings: Settings, user_id: str) -> tuple[Viewer | None, str | None]:
    """(viewer, refusal): the person from users.info (cached by the guard); guests, other workspaces' users
    and people Slack cannot confirm get a refusal instead (the policy; also for Home tabs refreshed by jobs,
    which no request middleware sees)."""
    refusal = guard.refusal_for_user(client, user_id)
    person = guard.person(client, user_id)
    if refusal is not None or person is None:
        return None, refusal or guard.REFUSE_UNKNOWN
    email = (person.email or "").strip().lower() or None
    team = parse_managers(settings.cs_managers).get(email or "", frozenset())
    return Viewer(user_id=user_id, email=email, is_admin=user_id in settings.admin_ids, team=team), None


def allowed_scopes(session: Session, viewer: Viewer) -> tuple[Scope, ...]:
    has_own = bool(viewer.email) and has_accounts(session, [viewer.email or ""])
    return viewer.scopes(has_own)


def choose_scope(scopes: tuple[Scope, ...], wanted: str | None) -> Scope:
    # A view the person may not see (a forged or stale button) falls back to their first one.
    return next((s for s in scopes if s == wanted), scopes[0])


def build_home_view(
    session: Session,
    viewer: Viewer,
    scope: str | None = None,
    page: int = 1,
    rules: str | None = None,
) -> tuple[dict[str, Any], Scope | None, int, int]:
    """(view, scope shown, page shown, accounts in the scope): the portfolio, or the guide."""
    scopes = allowed_scopes(session, viewer)
    if not scopes:
        return render_guide(viewer.email), None, 1, 0
    chosen = choose_scope(scopes, scope)
    portfolio = cached_portfolio(session, chosen, viewer.emails_for(chosen), rules)
    view = render_home(portfolio, scopes, page)
    shown = portfolio.page(page, PAGE_SIZE)[0]
    return view, chosen, shown, len(portfolio.accounts)


def _loading_if_slow(
    client: WebClient, session: Session, settings: Settings, viewer: Viewer, scope: str | None
) -> None:
    """Scoring thousands of accounts takes seconds the first time: say so instead of showing stale data."""
    scopes = allowed_scopes(session, viewer)
    if not scopes:
        return
    chosen = choose_scope(scopes, scope)
    emails = viewer.emails_for(chosen)
    if chosen == "mine" or is_cached(session, chosen, emails, settings.scoring_rules):
        return
    count = count_accounts(session, emails)
    if count >= portfolio_rules.CACHE_MIN_ACCOUNTS:
        client.views_publish(user_id=viewer.user_id, view=render_loading(count, chosen))


def _remember(session: Session, user_id: str, email: str | None, scope: str, page: int) -> None:
    values = {"user_id": user_id, "email": email, "scope": scope, "page": page, "opened_at": datetime.now(UTC)}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(HomeViewer).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[HomeViewer.user_id], set_={k: v for k, v in values.items() if k != "user_id"}
    )
    session.execute(stmt)


def publish_home(
    client: WebClient,
    settings: Settings,
    user_id: str,
    scope: str | None = None,
    page: int = 1,
) -> Published:
    """Build and publish one person's Home tab (views.publish)."""
    viewer, refusal = viewer_for(client, settings, user_id)
    if viewer is None:
        client.views_publish(user_id=user_id, view=render_refusal(refusal or guard.REFUSE_UNKNOWN))
        return Published(user_id, "refused")
    started = time.perf_counter()
    try:
        with session_scope(settings.database_url) as session:
            _loading_if_slow(client, session, settings, viewer, scope)
            started = time.perf_counter()
            view, shown_scope, shown_page, count = build_home_view(session, viewer, scope, page, settings.scoring_rules)
            if shown_scope is not None:
                _remember(session, user_id, viewer.email, shown_scope, shown_page)
    except (SQLAlchemyError, RulesError):
        # The database is down or the rules file is broken: say so on the tab rather than show stale data.
        log.exception("home: could not build the Home tab for %s", user_id)
        client.views_publish(user_id=user_id, view=render_unavailable())
        return Published(user_id, "unavailable")
    elapsed = (time.perf_counter() - started) * 1000
    client.views_publish(user_id=user_id, view=view)
    kind = "guide" if shown_scope is None else "portfolio"
    log.info(
        "home: published %s for %s (%s, page %s, %s accounts) in %.0f ms",
        kind,
        user_id,
        shown_scope,
        shown_page,
        count,
        elapsed,
    )
    return Published(user_id, kind, shown_scope, shown_page, count, elapsed)


def _stored(settings: Settings, user_ids: Iterable[str] | None) -> list[tuple[str, str, int]]:
    with session_scope(settings.database_url) as session:
        stmt = select(HomeViewer.user_id, HomeViewer.scope, HomeViewer.page)
        if user_ids is None:
            stmt = stmt.where(HomeViewer.opened_at >= datetime.now(UTC) - REFRESH_RECENT)
        else:
            wanted = sorted(set(user_ids))
            if not wanted:
                return []
            stmt = stmt.where(HomeViewer.user_id.in_(wanted))
        found = {r.user_id: (r.user_id, r.scope, r.page) for r in session.execute(stmt)}
    if user_ids is not None:
        # People never seen before get their default view.
        for u in user_ids:
            found.setdefault(u, (u, "mine", 1))
    return sorted(found.values())


def refresh_home(client: WebClient, user_ids: Iterable[str] | None = None, *, settings: Settings | None = None) -> int:
    """Re-publish the Home tab of these users (None = everyone who opened it lately); returns how many.

    Each person gets the view and page they last looked at. A few at a time: Slack answers in parallel.
    """
    settings = settings or get_settings()
    try:
        targets = _stored(settings, None if user_ids is None else list(user_ids))
    except Exception:
        log.exception("home refresh: could not read whom to refresh")
        return 0

    def one(target: tuple[str, str, int]) -> bool:
        user_id, scope, page = target
        try:
            publish_home(client, settings, user_id, scope if scope in SCOPES else None, page)
            return True
        except Exception:  # one person's Home must not stop the others'
            log.exception("home refresh failed for %s", user_id)
            return False

    if len(targets) <= 1:
        return sum(one(t) for t in targets)
    with ThreadPoolExecutor(max_workers=REFRESH_THREADS, thread_name_prefix="home-refresh") as pool:
        return sum(pool.map(one, targets))


def refresh_home_for_accounts(
    client: WebClient, account_ids: Iterable[str], *, settings: Settings | None = None
) -> int:
    """After a change to these accounts (a relabel): refresh the Home tabs of their TAMs and of the managers
    whose team includes those TAMs. All-accounts viewers are not recomputed for every click; they see the
    change the next time they open the tab (their cached portfolio is keyed by the data, so it is fresh)."""
    settings = settings or get_settings()
    ids = sorted(set(account_ids))
    if not ids:
        return 0
    try:
        with session_scope(settings.database_url) as session:
            tams = {e.lower() for e in session.scalars(select(Account.tam_email).where(Account.id.in_(ids))) if e}
            managers = [m for m, team in parse_managers(settings.cs_managers).items() if team & tams]
            users = list(
                session.scalars(
                    select(HomeViewer.user_id).where(
                        or_(
                            HomeViewer.email.in_(sorted(tams)),
                            and_(HomeViewer.scope == "team", HomeViewer.email.in_(managers)),
                        )
                    )
                )
            )
    except Exception:
        log.exception("home refresh: could not find the viewers of %s", ids)
        return 0
    return refresh_home(client, users, settings=settings) if users else 0


def refresh_home_later(client: WebClient, account_ids: Iterable[str], *, settings: Settings | None = None) -> None:
    """`refresh_home_for_accounts` in the background: a relabel click must not wait for Home tabs."""
    ids = list(account_ids)
    threading.Thread(
        target=refresh_home_for_accounts, args=(client, ids), kwargs={"settings": settings}, daemon=True
    ).start()


def refresh_home_after_sync(settings: Settings) -> int:
    """After a successful sync: refresh everyone who opened the Home tab lately (when Slack is configured)."""
    if not settings.slack_bot_token:
        return 0
    from bot.app import make_web_client

    return refresh_home(make_web_client(settings), None, settings=settings)


def on_app_home_opened(event: dict[str, Any], body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    if event.get("tab") != "home":
        return  # the Messages tab: nothing to publish
    user_id = event.get("user")
    if not user_id:
        return
    deps = deps_of(context)
    publish_home(client, deps.settings, user_id)


def register(app: App) -> None:
    app.event("app_home_opened")(on_app_home_opened)
