"""The monthly digest over HTTP with the fake Slack: DMs, summary, exactly once whatever happens."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fakes.slack import FakeSlack
from sqlalchemy import func, select
from support.digest_data import account, instance, portfolio

from bot.blocks.limits import check_limits
from bot.features.digest.delivery import run_and_report
from db.models import DigestDelivery, DigestRun
from db.session import session_scope
from workflows.settings import Settings

MONTH = "2026-11"
AVERY, BLAKE, CASEY = "U0AVERY01", "U0BLAKE01", "U0CASEY01"


def _users(fake: FakeSlack) -> None:
    fake.add_user(AVERY, "avery", "avery@example.com")
    fake.add_user(BLAKE, "blake", "blake@example.com")
    # Casey is not in Slack.


def digest_parts(fake: FakeSlack, user_id: str) -> Counter[tuple[str, int]]:
    """(digest id, part) -> how many messages carried it in the user's DM."""
    out: Counter[tuple[str, int]] = Counter()
    for msg in fake.dm_messages(user_id):
        meta = msg.get("metadata") or {}
        if meta.get("event_type") == "usagebot_digest":
            payload = meta["event_payload"]
            out[(payload["digest_id"], int(payload["part"]))] += 1
    return out


def assert_exactly_once(fake: FakeSlack, user_id: str, db_url: str, email: str) -> None:
    with session_scope(db_url) as s:
        row = s.scalars(select(DigestDelivery).where(DigestDelivery.tam_email == email)).one()
        assert row.status == "sent"
        expected = {(row.digest_id, n) for n in range(1, len(row.parts) + 1)}
        assert set(row.sent_ts) == {str(n) for n in range(1, len(row.parts) + 1)}
    got = digest_parts(fake, user_id)
    assert set(got) == expected, f"parts in Slack {sorted(got)} != {sorted(expected)}"
    assert all(n == 1 for n in got.values()), f"a part was sent twice: {got}"


def test_run_sends_one_dm_per_tam_and_reports(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    _users(fake_slack)
    portfolio(db_url)
    result = run_and_report(bot_settings, month=MONTH, pace_seconds=0)

    assert result.tams_messaged == ["avery@example.com"]
    assert result.instances_listed == 3  # gitlab.acme.com, old.acme.com, git.beta.io
    assert result.tams_not_found == ["casey@example.com"]
    assert [name for _, name, _ in result.accounts_without_tam] == ["Echo (no TAM)"]
    assert fake_slack.dm_messages(BLAKE) == []  # nothing Unknown: no DM
    msgs = fake_slack.dm_messages(AVERY)
    assert len(msgs) == 1
    text = str(msgs[0]["blocks"])
    for expected in ("Acme Corp", "Beta Industries", "gitlab.acme.com", "old.acme.com", "git.beta.io"):
        assert expected in text
    assert "prod.acme.com" not in text  # labelled already
    assert "probably obsolete" in text  # silent 200 days
    assert "ask Support to generate a new license" in text  # unmapped license flag
    assert check_limits(msgs[0]["blocks"]) == []

    summary = fake_slack.messages["C0PRODANA1"]
    assert len(summary) == 1
    line = summary[0]["text"]
    assert "1 TAM messaged" in line and "3 instances listed" in line
    assert "casey@example.com" in line and "1 account with Unknown instances but no TAM" in line
    assert_exactly_once(fake_slack, AVERY, db_url, "avery@example.com")
    with session_scope(db_url) as s:
        row = s.scalars(select(DigestDelivery)).one()
        assert row.channel == fake_slack.dm_channel_id(AVERY) and row.message_count == 1 and row.slack_user_id == AVERY

    # A second run this month sends nothing and, having nothing new to say beyond the same not-found TAM, says it once.
    again = run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    assert again.tams_messaged == [] and again.already_sent == ["avery@example.com"]
    assert len(fake_slack.dm_messages(AVERY)) == 1
    # Next month is a new digest.
    run_and_report(bot_settings, month="2026-12", pace_seconds=0)
    assert len(fake_slack.dm_messages(AVERY)) == 2


def test_slack_user_lookups_are_cached(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    _users(fake_slack)
    portfolio(db_url)
    run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    lookups = len(fake_slack.calls_to("users.lookupByEmail"))
    run_and_report(bot_settings, month="2026-12", pace_seconds=0)
    assert len(fake_slack.calls_to("users.lookupByEmail")) == lookups


def test_429_storm_and_5xx_still_deliver_once(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    _users(fake_slack)
    portfolio(db_url)
    fake_slack.fail("users.lookupByEmail", 429, times=1, retry_after=1)
    fake_slack.fail("conversations.open", 503, times=1)
    fake_slack.fail("conversations.open", 503, times=1)
    # A 5xx, then a storm of 429s on the post (each waits Retry-After): retried, posted once.
    fake_slack.fail("chat.postMessage", 500, times=1)
    fake_slack.fail("chat.postMessage", 429, times=2, retry_after=1)
    result = run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    assert result.failures == []
    assert result.tams_messaged == ["avery@example.com"]
    assert_exactly_once(fake_slack, AVERY, db_url, "avery@example.com")


def test_5xx_after_slack_kept_the_message_is_not_sent_twice(
    bot_settings: Settings, fake_slack: FakeSlack, db_url: str
) -> None:
    """Slack stored the DM but answered 500 (or the connection dropped): the DM is checked before a retry."""
    _users(fake_slack)
    portfolio(db_url)
    fake_slack.fail("chat.postMessage", 500, times=2, accept=True)
    result = run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    assert result.failures == []
    assert result.tams_messaged == ["avery@example.com"]
    assert_exactly_once(fake_slack, AVERY, db_url, "avery@example.com")


def _many_tams(db_url: str, fake: FakeSlack, n: int, per_tam: int = 1) -> list[tuple[str, str]]:
    tams = []
    with session_scope(db_url) as s:
        for i in range(n):
            email, uid = f"tam{i}@example.com", f"U0TAM{i:04d}"
            fake.add_user(uid, f"tam{i}", email)
            account(s, f"acc{i}", f"Account {i}", email)
            for j in range(per_tam):
                instance(s, f"acc{i}", f"host{j}.acc{i}.example")
            tams.append((email, uid))
    return tams


class Crash(BaseException):
    """A crash at the worst moment: after Slack accepted a part, before it was recorded."""


def test_crash_after_posting_then_rerun_sends_only_missing_parts(
    bot_settings: Settings, fake_slack: FakeSlack, db_url: str
) -> None:
    from bot.app import make_web_client
    from bot.features.digest.blocks import render_digest
    from bot.features.digest.delivery import WebClientPort
    from db.session import session_factory
    from workflows.digest.delivery import run_digest

    tams = _many_tams(db_url, fake_slack, 4, per_tam=60)  # 60 instances: 3 parts each
    posted: list[tuple[str, int]] = []

    def crash_on_second_tam_second_part(email: str, part: int) -> None:
        posted.append((email, part))
        if email == tams[1][0] and part == 2:
            raise Crash()

    sessions = session_factory(db_url)
    port = WebClientPort(make_web_client(bot_settings))
    with pytest.raises(Crash):
        run_digest(
            sessions, port, render_digest, month=MONTH, pace_seconds=0, on_part_posted=crash_on_second_tam_second_part
        )
    assert len(posted) == 5  # TAM 0: 3 parts; TAM 1: parts 1 and 2 (2 unrecorded)

    # The crashed process is gone; its claim is on this host by this (live) process, so let it lapse.
    with session_scope(db_url) as s:
        for row in s.scalars(select(DigestDelivery).where(DigestDelivery.status == "sending")):
            row.claimed_by = "gone-host:1:dead"
            row.claimed_until = None
    result = run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    assert result.failures == []
    assert result.parts_recovered == 1  # part 2 of TAM 1 was found in Slack by its metadata
    assert sorted(result.already_sent) == [tams[0][0]]
    for email, uid in tams:
        assert_exactly_once(fake_slack, uid, db_url, email)
    history_calls = fake_slack.calls_to("conversations.history")
    assert history_calls and all(
        str(c.params.get("include_all_metadata")).lower() in ("1", "true") for c in history_calls
    )


def test_permanent_failure_mid_run_then_rerun(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    tams = _many_tams(db_url, fake_slack, 4)

    def break_slack(email: str, part: int) -> None:
        if email == tams[1][0]:  # after the second TAM, Slack refuses every post (for the 2 remaining TAMs)
            fake_slack.fail("chat.postMessage", error="fatal_error", times=2)

    from bot.app import make_web_client
    from bot.features.digest.blocks import render_digest
    from bot.features.digest.delivery import WebClientPort
    from db.session import session_factory
    from workflows.digest.delivery import run_digest

    first = run_digest(
        session_factory(db_url),
        WebClientPort(make_web_client(bot_settings)),
        render_digest,
        month=MONTH,
        pace_seconds=0,
        on_part_posted=break_slack,
    )
    assert len(first.tams_messaged) == 2 and len(first.failures) == 2
    second = run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    assert sorted(second.tams_messaged) == sorted(e for e, _ in tams[2:])
    assert sorted(second.already_sent) == sorted(e for e, _ in tams[:2])
    for email, uid in tams:
        assert_exactly_once(fake_slack, uid, db_url, email)


def test_killed_process_then_rerun_one_dm_each(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    tams = _many_tams(db_url, fake_slack, 6, per_tam=30)  # 2 parts each
    env = {**os.environ}
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "digest", "--month", MONTH, "--pace", "0.4"],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        fake_slack.wait_for("chat.postMessage", 5, timeout=60)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    sent_before = len(fake_slack.calls_to("chat.postMessage"))
    assert sent_before < 12, "the run should have been killed half way"

    result = run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    assert result.failures == []
    for email, uid in tams:
        assert_exactly_once(fake_slack, uid, db_url, email)


def test_two_runs_at_once_send_each_dm_once(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    tams = _many_tams(db_url, fake_slack, 12, per_tam=2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(run_and_report(bot_settings, month=MONTH, pace_seconds=0))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    messaged = [e for r in results for e in r.tams_messaged]
    assert sorted(messaged) == sorted(e for e, _ in tams)  # each TAM by exactly one run
    for email, uid in tams:
        assert_exactly_once(fake_slack, uid, db_url, email)
    with session_scope(db_url) as s:
        assert s.scalar(select(func.count()).select_from(DigestDelivery)) == 12
        assert s.scalar(select(func.count()).select_from(DigestRun)) == 3


def test_tam_with_300_unknown_instances_fits_slack_limits(
    bot_settings: Settings, fake_slack: FakeSlack, db_url: str
) -> None:
    fake_slack.add_user(AVERY, "avery", "avery@example.com")
    with session_scope(db_url) as s:
        for a in range(7):
            account(s, f"big{a}", f"Big Account {a} " + "x" * 60, "avery@example.com")
        for i in range(300):
            instance(
                s,
                f"big{i % 7}",
                f"gitlab-{i:03d}." + "very-long-subdomain-name." * 5 + "example.com",
                silent_days=i,
                license_mapped=(i % 50 != 0),
            )
    result = run_and_report(bot_settings, month=MONTH, pace_seconds=0)
    assert result.instances_listed == 300
    msgs = fake_slack.dm_messages(AVERY)
    assert len(msgs) > 6
    seen: list[str] = []
    for m in msgs:
        assert check_limits(m["blocks"]) == [], check_limits(m["blocks"])
        assert len(m["blocks"]) <= 50
        for b in m["blocks"]:
            if b["type"] == "actions" and b["block_id"].startswith("relabel:"):
                seen.append(b["block_id"])
    assert len(seen) == 300 and len(set(seen)) == 300  # every instance once, with its buttons
    assert_exactly_once(fake_slack, AVERY, db_url, "avery@example.com")
    assert "ask Support" in str(msgs[-1]["blocks"])


def test_pacing_spaces_parts_to_one_channel(bot_settings: Settings, fake_slack: FakeSlack, db_url: str) -> None:
    _many_tams(db_url, fake_slack, 1, per_tam=50)  # 3 parts to one channel
    started = time.monotonic()
    run_and_report(bot_settings, month=MONTH, pace_seconds=0.3)
    assert time.monotonic() - started >= 0.6
    posts = [c.at for c in fake_slack.calls_to("chat.postMessage") if str(c.params.get("channel", "")).startswith("D")]
    assert len(posts) == 3 and all(b - a >= 0.28 for a, b in itertools.pairwise(posts))


def test_resume_job_finishes_a_delivery_whose_claim_lapsed(
    bot_settings: Settings, fake_slack: FakeSlack, db_url: str
) -> None:
    from datetime import UTC, datetime, timedelta

    from bot.app import make_web_client
    from bot.edge import BoltSlackEdge
    from bot.features.digest.blocks import render_digest
    from bot.features.digest.delivery import WebClientPort
    from db.session import session_factory
    from workflows.digest.compose import current_month
    from workflows.digest.delivery import run_digest
    from workflows.digest.jobs import resume_unfinished

    month = current_month(bot_settings.timezone)
    tams = _many_tams(db_url, fake_slack, 2, per_tam=30)  # 2 parts each

    def crash(email: str, part: int) -> None:
        if email == tams[1][0] and part == 1:
            raise Crash()

    with pytest.raises(Crash):
        run_digest(
            session_factory(db_url),
            WebClientPort(make_web_client(bot_settings)),
            render_digest,
            month=month,
            pace_seconds=0,
            on_part_posted=crash,
        )
    # The claim is still alive (the "crashed" run could be another process on another host): hands off.
    assert resume_unfinished(bot_settings, BoltSlackEdge(bot_settings)).startswith("resumed 0 of 0")
    with session_scope(db_url) as s:
        row = s.scalars(select(DigestDelivery).where(DigestDelivery.status == "sending")).one()
        row.claimed_by = "other-host:1234:abcd:ef"
        row.claimed_until = datetime.now(UTC) - timedelta(seconds=1)
    assert resume_unfinished(bot_settings, BoltSlackEdge(bot_settings)).startswith("resumed 1 of 1")
    for email, uid in tams:
        assert_exactly_once(fake_slack, uid, db_url, email)


def test_same_pid_from_an_earlier_process_counts_as_dead() -> None:
    import socket

    from workflows.digest.delivery import PROCESS_TOKEN, _claimer_is_dead

    host, pid = socket.gethostname(), os.getpid()
    assert _claimer_is_dead(f"{host}:{pid}:deadbeef:1234")  # a restarted container reuses the pid
    assert not _claimer_is_dead(f"{host}:{pid}:{PROCESS_TOKEN}:1234")  # this very process
    assert not _claimer_is_dead("elsewhere:1:deadbeef:1234")  # other hosts: wait for the lease
