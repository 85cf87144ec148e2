"""The monthly digest at 09:00 in each TAM's own time zone (their Slack profile's `tz`, else TIMEZONE): the
clock's passes around the digest day, exactly once per TAM and month, one summary, and the dry run's times."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from click.testing import CliRunner
from fakes.slack import FakeSlack
from sqlalchemy import select
from support.digest_data import account, instance

from bot.cli import cli
from bot.edge import BoltSlackEdge
from db.models import DigestDelivery, SlackUserCache
from db.session import session_scope
from workflows.digest.jobs import scheduled_run
from workflows.digest.schedule import LocalDigestTrigger, due_at, due_window, wall_time
from workflows.scheduler import FirstWorkingDayTrigger, crontab_trigger
from workflows.settings import Settings

CHANNEL = "C0PRODANA1"
# Digest day: Tuesday 2026-12-01 (the first working day), 09:00 in each TAM's zone.
TAMS = {
    "kiri@example.com": ("U0KIRI001", "Pacific/Kiritimati"),  # UTC+14: 2026-11-30 19:00 UTC
    "berlin@example.com": ("U0BERLIN1", "Europe/Berlin"),  # UTC+1: 08:00 UTC
    "plain@example.com": ("U0PLAIN01", None),  # no tz in Slack: TIMEZONE (UTC), 09:00 UTC
    "la@example.com": ("U0LA00001", "America/Los_Angeles"),  # UTC-8: 17:00 UTC
}


def _seed(fake: FakeSlack, db_url: str) -> None:
    for email, (user_id, tz) in TAMS.items():
        fake.add_user(user_id, email.split("@")[0], email, tz=tz)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    with session_scope(db_url) as s:
        for n, email in enumerate(TAMS):
            account(s, f"0016TZ{n}", f"Account {n}", email)
            instance(s, f"0016TZ{n}", f"gitlab{n}.example.com", now=now)


def _digest_dms(fake: FakeSlack, user_id: str) -> Counter[tuple[str, int]]:
    out: Counter[tuple[str, int]] = Counter()
    for msg in fake.dm_messages(user_id):
        meta = msg.get("metadata") or {}
        if meta.get("event_type") == "usagebot_digest":
            out[(meta["event_payload"]["digest_id"], int(meta["event_payload"]["part"]))] += 1
    return out


def _summaries(fake: FakeSlack) -> list[str]:
    return [c.params.get("text") or "" for c in fake.calls_to("chat.postMessage") if c.params["channel"] == CHANNEL]


def _got(fake: FakeSlack) -> set[str]:
    return {email for email, (uid, _) in TAMS.items() if _digest_dms(fake, uid)}


def test_trigger_wakes_every_quarter_hour_around_the_digest_day() -> None:
    utc = ZoneInfo("UTC")
    trigger = LocalDigestTrigger(FirstWorkingDayTrigger(9, 0, utc), utc)
    first = trigger.get_next_fire_time(None, datetime(2026, 11, 20, tzinfo=UTC))
    assert first == datetime(2026, 11, 30, 19, 0, tzinfo=UTC)  # 09:00 on Dec 1 at UTC+14
    assert trigger.get_next_fire_time(first, first) == first + timedelta(minutes=15)
    assert trigger.get_next_fire_time(None, datetime(2026, 12, 1, 8, 7, tzinfo=UTC)) == datetime(
        2026, 12, 1, 8, 15, tzinfo=UTC
    )
    # After the window (the last zone, UTC-12, and the catch-up grace): next month's first working day.
    after = trigger.get_next_fire_time(None, datetime(2026, 12, 2, 4, 0, tzinfo=UTC))
    assert after == datetime(2026, 12, 31, 19, 0, tzinfo=UTC)  # Jan 1 2027 is a Friday, 09:00 at UTC+14
    assert "each TAM's Slack time zone" in str(trigger)
    # DIGEST_CRON: its first firing in the month gives the day and the local time.
    ny = ZoneInfo("America/New_York")
    wall = wall_time(crontab_trigger("30 8 * * 1", ny), ny, "2026-12")
    assert wall == datetime(2026, 12, 7, 8, 30)
    assert due_at(wall, "Asia/Kolkata", "UTC") == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    assert due_at(wall, "Not/AZone", "America/New_York").utcoffset() == timedelta(hours=-5)  # unknown: fallback
    assert due_window(FirstWorkingDayTrigger(9, 0, utc), utc, datetime(2026, 12, 10, tzinfo=UTC)) is None


def test_each_tam_gets_the_digest_at_nine_in_their_own_zone_once(
    bot_settings: Settings, fake_slack: FakeSlack, db_url: str
) -> None:
    _seed(fake_slack, db_url)
    edge = BoltSlackEdge(bot_settings)

    def tick(when: datetime) -> str:
        return scheduled_run(bot_settings, edge, now=when)

    assert tick(datetime(2026, 11, 30, 18, 45, tzinfo=UTC)) == "no digest is due around now"  # before UTC+14's 09:00
    assert _got(fake_slack) == set()
    tick(datetime(2026, 11, 30, 19, 0, tzinfo=UTC))
    assert _got(fake_slack) == {"kiri@example.com"}
    assert "3 TAMs get theirs later" in tick(datetime(2026, 11, 30, 19, 15, tzinfo=UTC))
    out = tick(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert _got(fake_slack) == {"kiri@example.com", "berlin@example.com"} and "get theirs later" in out
    assert _summaries(fake_slack) == []  # the summary waits until everyone due has theirs
    tick(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert "plain@example.com" in _got(fake_slack)  # no tz in Slack: 09:00 in TIMEZONE
    # A restart and a second clock running the same pass at once: still exactly once each.
    threads = [threading.Thread(target=tick, args=(datetime(2026, 12, 1, 17, 0, tzinfo=UTC),)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    tick(datetime(2026, 12, 1, 17, 15, tzinfo=UTC))
    assert _got(fake_slack) == set(TAMS)
    for _email, (user_id, _) in TAMS.items():
        parts = _digest_dms(fake_slack, user_id)
        assert parts and all(n == 1 for n in parts.values())
    (summary,) = _summaries(fake_slack)
    assert "Unknown-instance digest 2026-12: 4 TAMs messaged" in summary and "4 instances listed" in summary
    with session_scope(db_url) as s:
        assert {r.tam_email for r in s.scalars(select(DigestDelivery)) if r.status == "sent"} == set(TAMS)
        cached = {r.email: r.tz for r in s.scalars(select(SlackUserCache))}
    assert cached["la@example.com"] == "America/Los_Angeles" and cached["plain@example.com"] is None
    assert tick(datetime(2026, 12, 10, tzinfo=UTC)) == "no digest is due around now"


def test_dry_run_says_when_each_tam_gets_theirs(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    _seed(fake_slack, db_url)
    out = CliRunner().invoke(cli, ["digest", "--dry-run", "--month", "2026-12"])
    assert out.exit_code == 0, out.output
    assert "due 2026-12-01 09:00 Pacific/Kiritimati (2026-11-30 19:00 UTC)" in out.output
    assert "due 2026-12-01 09:00 America/Los_Angeles (2026-12-01 17:00 UTC)" in out.output
    assert "due 2026-12-01 09:00 UTC (2026-12-01 09:00 UTC)" in out.output  # the TIMEZONE fallback
    assert fake_slack.calls_to("chat.postMessage") == []
    assert date(2026, 12, 1).weekday() == 1  # the first working day of December 2026 is Tuesday the 1st
