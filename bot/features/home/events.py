"""App Home: `app_home_opened` publishes the person's portfolio (`publish_home`, also what the jobs in
`bot/features/home/jobs.py` call to re-publish it after changes).

Who sees what: the accounts whose `tam_email` is the person's Slack email ("mine"); a manager listed in
`CS_MANAGERS` may switch to their team's accounts; a CS-ops admin (`CS_OPS_ADMINS`) to all accounts.
Someone with none of these gets a short guide; guests and other workspaces' users a refusal.
Each publish remembers (in `home_viewers`) what the person looked at, so refreshes after a sync or a
relabel re-publish the same view and page, and know whom to refresh.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bot import guard
from bot.features.home.blocks import (
    PAGE_SIZE,
    render_guide,
    render_home,
    render_loading,
    render_refusal,
    render_unavailable,
)
from bot.listener import UsageContext, acked_then
from db.models import HomeViewer
from db.queries.portfolio import count_accounts, has_accounts
from scoring.rules import RulesError
from workflows import portfolio as portfolio_rules
from workflows.portfolio import (
    Scope,
    Viewer,
    home_page,
    is_cached,
    parse_managers,
)
from workflows.settings import Settings

log = logging.getLogger("usagebot.home")


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
    shown = home_page(session, chosen, viewer.emails_for(chosen), page, PAGE_SIZE, rules)
    return render_home(shown, scopes), chosen, shown.number, shown.totals.accounts


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
    session: Session,
    settings: Settings,
    user_id: str,
    scope: str | None = None,
    page: int = 1,
) -> Published:
    """Build and publish one person's Home tab (views.publish), in the caller's session (the request's, or
    the refresh job's own)."""
    viewer, refusal = viewer_for(client, settings, user_id)
    if viewer is None:
        client.views_publish(user_id=user_id, view=render_refusal(refusal or guard.REFUSE_UNKNOWN))
        return Published(user_id, "refused")
    started = time.perf_counter()
    try:
        _loading_if_slow(client, session, settings, viewer, scope)
        started = time.perf_counter()
        view, shown_scope, shown_page, count = build_home_view(session, viewer, scope, page, settings.scoring_rules)
        if shown_scope is not None:
            _remember(session, user_id, viewer.email, shown_scope, shown_page)
            # Recorded before it is shown: a refresh right after this publishes the same view and page.
            session.commit()
    except (SQLAlchemyError, RulesError):
        # The database is down or the rules file is broken: say so on the tab rather than show stale data.
        session.rollback()
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


def on_app_home_opened(ctx: UsageContext) -> None:
    event = ctx.body.get("event") or {}
    if event.get("tab") != "home":
        return  # the Messages tab: nothing to publish
    if not ctx.user_id:
        return
    publish_home(ctx.client, ctx.session, ctx.settings, ctx.user_id)


def register(app: App) -> None:
    app.event("app_home_opened")(**acked_then("home opened", on_app_home_opened))
