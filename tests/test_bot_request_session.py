"""bot/app.py: one session per request, committed when the listener returns, rolled back when it
raises, closed either way, on the listener's own thread (also for lazy listeners, which run after the ack)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from fakes.signing import block_action_payload, interaction_body, post, slash_body
from fakes.slack import FakeSlack
from fakes.wsgi import serve
from slack_bolt import BoltContext
from slack_bolt.adapter.wsgi import SlackRequestHandler
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from support.bot_usage_data import TAM_EMAIL, seed

from bot.app import build_app, session_of
from bot.listener import UsageContext, acked_then
from db.models import HomeViewer
from db.queries.accounts import clear_cache
from db.session import get_engine, session_scope
from workflows.settings import Settings


class Pool:
    """Connections taken from and given back to the engine's pool, as SQLAlchemy's pool events report them."""

    def __init__(self, url: str) -> None:
        self.engine = get_engine(url)
        self.out = 0
        self.checkins = 0
        self.checkin_threads: list[int] = []
        self.changed = threading.Condition()
        event.listen(self.engine, "checkout", self._checkout)
        event.listen(self.engine, "checkin", self._checkin)

    def _checkout(self, *_: Any) -> None:
        with self.changed:
            self.out += 1

    def _checkin(self, *_: Any) -> None:
        with self.changed:
            self.out -= 1
            self.checkins += 1
            self.checkin_threads.append(threading.get_ident())
            self.changed.notify_all()

    def wait_for_checkins(self, n: int) -> None:
        # The listener's session is closed after the listener returns, on Bolt's worker thread.
        with self.changed:
            assert self.changed.wait_for(lambda: self.checkins >= n, timeout=20), "the session was never closed"

    def wait_until_all_back(self) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.out == 0, timeout=20), f"{self.out} connections never returned"

    def remove(self) -> None:
        event.remove(self.engine, "checkout", self._checkout)
        event.remove(self.engine, "checkin", self._checkin)


@pytest.fixture
def pool(db_url: str) -> Iterator[Pool]:
    watched = Pool(db_url)
    yield watched
    watched.remove()


SEEN: list[tuple[str, int, Session]] = []  # (listener, thread, session) of each run


def _write(session: Session, user_id: str) -> None:
    session.add(HomeViewer(user_id=user_id, email=None, scope="mine", page=1, opened_at=datetime.now(UTC)))
    session.flush()


def _feature() -> ModuleType:
    feature = ModuleType("session_feature")

    def register(app: Any) -> None:
        def lazy_writes(ctx: UsageContext) -> None:
            SEEN.append(("lazy", threading.get_ident(), ctx.session))
            _write(ctx.session, "ULAZYOK01")

        def lazy_writes_then_fails(ctx: UsageContext) -> None:
            _write(ctx.session, "ULAZYBAD1")
            raise RuntimeError("a bug after a write")

        app.action("lazy_ok")(**acked_then("lazy ok", lazy_writes))
        app.action("lazy_bad")(**acked_then("lazy bad", lazy_writes_then_fails))

        @app.action("plain_ok")
        def plain_ok(ack: Any, context: BoltContext) -> None:
            ack()
            SEEN.append(("plain", threading.get_ident(), session_of(context)))
            _write(session_of(context), "UPLAINOK1")

        @app.action("plain_bad")
        def plain_bad(ack: Any, context: BoltContext) -> None:
            ack()
            _write(session_of(context), "UPLAINBAD")
            raise RuntimeError("a bug after a write")

        @app.action("no_db")
        def no_db(ack: Any, context: BoltContext) -> None:
            ack()

    feature.register = register  # type: ignore[attr-defined]
    return feature


@pytest.fixture
def app_url(bot_settings: Settings, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    fake_slack.add_user("U0TAM0001", "avery", "avery@example.com")
    monkeypatch.setitem(sys.modules, "session_feature", _feature())
    SEEN.clear()
    with serve(SlackRequestHandler(build_app(bot_settings, ("session_feature",)), path="/slack/events")) as url:
        yield url


def _click(url: str, fake_slack: FakeSlack, action: str) -> None:
    payload = block_action_payload(action, "v", response_url=fake_slack.response_url())
    assert post(url + "/slack/events", interaction_body(payload)).status == 200


def _stored(db_url: str) -> set[str]:
    with session_scope(db_url) as s:
        return set(s.scalars(select(HomeViewer.user_id)))


@pytest.mark.parametrize(("action", "user_id"), [("lazy_ok", "ULAZYOK01"), ("plain_ok", "UPLAINOK1")])
def test_what_a_listener_writes_is_committed_when_it_returns(
    app_url: str, fake_slack: FakeSlack, pool: Pool, db_url: str, action: str, user_id: str
) -> None:
    _click(app_url, fake_slack, action)
    pool.wait_for_checkins(1)
    assert _stored(db_url) == {user_id}
    assert pool.out == 0  # closed: its connection is back in the pool


@pytest.mark.parametrize("action", ["lazy_bad", "plain_bad"])
def test_what_a_failing_listener_wrote_is_rolled_back(
    app_url: str, fake_slack: FakeSlack, pool: Pool, db_url: str, action: str
) -> None:
    _click(app_url, fake_slack, action)
    pool.wait_for_checkins(1)
    assert _stored(db_url) == set()
    assert pool.out == 0
    if action == "lazy_bad":  # the person is told (bot.listener.safely), after the rollback
        fake_slack.wait_for("response_url")


def test_every_run_has_its_own_session_and_a_listener_without_database_work_takes_no_connection(
    app_url: str, fake_slack: FakeSlack, pool: Pool, db_url: str
) -> None:
    _click(app_url, fake_slack, "no_db")
    for action in ("lazy_ok", "plain_ok"):
        before = pool.checkins
        _click(app_url, fake_slack, action)
        pool.wait_for_checkins(before + 1)
    # Only the two listeners that used the database took a connection (the session connects on first use),
    # and each request had a session of its own; all of them are back in the pool.
    assert pool.checkins == 2 and pool.out == 0
    assert [kind for kind, _, _ in SEEN] == ["lazy", "plain"]
    assert SEEN[0][2] is not SEEN[1][2]
    # Each session was closed on the thread its listener ran on (Bolt's workers), after the listener.
    assert pool.checkin_threads == [thread for _, thread, _ in SEEN]
    assert _stored(db_url) == {"ULAZYOK01", "UPLAINOK1"}


def test_the_real_usage_command_reads_in_one_session_that_is_closed_after_the_answer(
    bot_url: str, fake_slack: FakeSlack, pool: Pool, db_url: str
) -> None:
    seed(db_url)
    clear_cache()
    fake_slack.add_user("U0TAM0001", "avery", email=TAM_EMAIL)
    before = pool.checkins
    body = slash_body("acme corp instances", user_id="U0TAM0001", response_url=fake_slack.response_url("r1"))
    assert post(bot_url + "/slack/events", body).status == 200
    fake_slack.wait_for("response_url")
    pool.wait_until_all_back()
    # Parsing, resolving the account, the report and the relabel buttons' versions: one connection.
    assert pool.checkins - before == 1
    assert "Acme Corp" in str(fake_slack.responses()[-1])
