"""Re-publishing Home tabs after changes (never raise; failures are logged):

- `refresh_home(client, user_ids, settings=…)`: re-publish for these Slack users (None = everyone who
  opened the Home tab in the last 90 days), e.g. after a sync.
- `refresh_home_for_accounts(client, account_ids, settings=…)`: re-publish for the accounts' TAMs who have
  a Home tab and their managers' team views; `refresh_home_later(...)` does it in a background thread
  (what a relabel click calls, so the click's own answer is not delayed).
- `refresh_home_after_sync(settings)`: after `usagebot sync` succeeds (does nothing without a bot token).

No request runs these, so each opens its own sessions (one per person re-published, on its own thread).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from sqlalchemy import and_, or_, select

from bot.features.home.events import publish_home
from db.models import Account, HomeViewer
from db.session import session_scope
from workflows.portfolio import SCOPES, parse_managers
from workflows.settings import Settings, get_settings

log = logging.getLogger("usagebot.home")

REFRESH_RECENT = timedelta(days=90)
REFRESH_THREADS = 4


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
            with session_scope(settings.database_url) as session:
                publish_home(client, session, settings, user_id, scope if scope in SCOPES else None, page)
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
