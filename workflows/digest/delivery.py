"""Delivering the monthly digest (composed by `compose.py`) exactly once per TAM and month.

Delivering follows "write before the outside call, confirm after it":
1. claim the (tam_email, month) row: an INSERT that the unique constraint lets only one run win,
   or a compare-and-set take-over of a row whose claimer is gone (lease expired, or a dead process
   on this host); the composed parts are frozen in the row;
2. if the row was already being sent (a crashed run), ask Slack which parts arrived: each message
   carries metadata {event_type: usagebot_digest, digest_id, part}; `conversations.history`
   with include_all_metadata shows them;
3. post only the missing parts, recording each ts as it is confirmed; then mark the row sent.
Two runs at once, a kill at any point, 429s and 5xxs (retried by the WebClient's handlers) all end
with each part posted once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from db.models import Account
from db.models.digest import DigestDelivery, DigestRun, SlackUserCache
from db.session import inserted_id, rows_changed
from workflows.digest.compose import TamDigest, as_utc, compose
from workflows.digest.schedule import due_at
from workflows.wording import plural

log = logging.getLogger("usagebot.digest")

EVENT_TYPE = "usagebot_digest"
CLAIM_TTL = timedelta(minutes=5)
HISTORY_SCAN_LIMIT = 1000  # messages of the TAM's DM read back when resuming a delivery
USER_CACHE_FOUND_TTL = timedelta(days=7)
USER_CACHE_MISSING_TTL = timedelta(hours=1)  # a new TAM may join Slack any day


# ----------------------------------------------------------------------------- Slack, as the digest needs it
class SlackPort(Protocol):
    """What delivering needs from Slack; `bot/features/digest/delivery.py` implements it with slack_sdk's WebClient
    (whose retry handlers wait out 429s and retry 5xx). Methods raise on a failure that retries didn't fix."""

    def lookup_user(self, email: str) -> str | None: ...

    def lookup_user_tz(self, email: str) -> tuple[str | None, str | None]:
        """(user id, IANA time zone of their profile); (None, None) when the email is not in Slack."""
        ...

    def open_dm(self, user_id: str) -> str: ...

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], metadata: dict[str, Any]) -> str: ...

    def recent_metadata(self, channel: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        """(ts, metadata) of the messages with metadata among the `limit` most recent in `channel`."""
        ...


# A renderer turns one TAM's digest into messages: [{"text": …, "blocks": […]}, …]. bot/features/digest/blocks.py.
Renderer = Callable[[TamDigest], list[dict[str, Any]]]


# ----------------------------------------------------------------------------- Slack user lookup, cached
def find_slack_person(
    sessions: sessionmaker[Session], slack: SlackPort, email: str, *, now: datetime | None = None, write: bool = True
) -> tuple[str | None, str | None]:
    """(Slack user id, profile time zone) for `email` ((None, None): not in Slack), from the cache while fresh."""
    now = now or datetime.now(UTC)
    email = email.strip().lower()
    with sessions() as session:
        cached = session.get(SlackUserCache, email)
        if cached is not None and as_utc(cached.expires_at) > now:
            return cached.user_id, cached.tz
    user_id, tz = slack.lookup_user_tz(email)
    if write:
        ttl = USER_CACHE_FOUND_TTL if user_id else USER_CACHE_MISSING_TTL
        with sessions() as session:
            row = session.get(SlackUserCache, email)
            if row is None:
                session.add(SlackUserCache(email=email, user_id=user_id, tz=tz, fetched_at=now, expires_at=now + ttl))
            else:
                row.user_id, row.tz, row.fetched_at, row.expires_at = user_id, tz, now, now + ttl
            try:
                session.commit()
            except IntegrityError:  # another run cached it at the same moment: theirs is as good
                session.rollback()
    return user_id, tz


def find_slack_user(
    sessions: sessionmaker[Session], slack: SlackPort, email: str, *, now: datetime | None = None, write: bool = True
) -> str | None:
    """The Slack user id for `email` (None: not in Slack), from the cache while fresh."""
    return find_slack_person(sessions, slack, email, now=now, write=write)[0]


# ----------------------------------------------------------------------------- claiming deliveries
# Tells this process apart from an earlier one with the same host and pid (a restarted container's pid 1).
PROCESS_TOKEN = uuid.uuid4().hex[:8]


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{PROCESS_TOKEN}:{uuid.uuid4().hex[:8]}"


def _claimer_is_dead(claimed_by: str | None) -> bool:
    """A claim by a process on this host that no longer exists (killed mid-run) need not wait for its lease.

    Claims from other hosts wait for their lease to lapse (CLAIM_TTL); `resume_unfinished` picks them up then.
    """
    if not claimed_by:
        return True
    host, pid_text, token = ([*claimed_by.split(":"), "", ""])[:3]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return token != PROCESS_TOKEN  # same pid, earlier process: dead; this process: another thread, alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass
class Claim:
    delivery_id: int
    digest_id: str
    resumed: bool  # the row existed: parts may already be in Slack


def claim(
    sessions: sessionmaker[Session],
    *,
    tam_email: str,
    month: str,
    runner: str,
    parts: list[dict[str, Any]],
    instance_count: int,
    slack_user_id: str,
    now: datetime | None = None,
) -> Claim | None:
    """Win the right to send this TAM's digest for `month`, or None (sent already, or another run is on it)."""
    now = now or datetime.now(UTC)
    digest_id = uuid.uuid4().hex
    with sessions() as session:
        try:
            result = session.execute(
                insert(DigestDelivery).values(
                    tam_email=tam_email,
                    month=month,
                    digest_id=digest_id,
                    status="sending",
                    slack_user_id=slack_user_id,
                    parts=parts,
                    sent_ts={},
                    message_count=0,
                    instance_count=instance_count,
                    claimed_by=runner,
                    claimed_until=now + CLAIM_TTL,
                    attempts=1,
                    created_at=now,
                )
            )
            session.commit()
            return Claim(inserted_id(result), digest_id, resumed=False)
        except IntegrityError:
            session.rollback()
        row = session.execute(
            select(
                DigestDelivery.id, DigestDelivery.status, DigestDelivery.claimed_by, DigestDelivery.claimed_until
            ).where(DigestDelivery.tam_email == tam_email, DigestDelivery.month == month)
        ).first()
        session.rollback()
        if row is None or row.status == "sent":
            return None
        expired = row.claimed_until is None or as_utc(row.claimed_until) < now
        if not (expired or row.claimed_by == runner or _claimer_is_dead(row.claimed_by)):
            return None
        # Compare-and-set on the claimer we saw: of two runs taking over at once, one wins.
        taken = session.execute(
            update(DigestDelivery)
            .where(
                DigestDelivery.id == row.id,
                DigestDelivery.status == "sending",
                DigestDelivery.claimed_by.is_(None)
                if row.claimed_by is None
                else DigestDelivery.claimed_by == row.claimed_by,
            )
            .values(
                claimed_by=runner,
                claimed_until=now + CLAIM_TTL,
                attempts=DigestDelivery.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if rows_changed(taken) != 1:
            return None
        kept_id = session.scalar(select(DigestDelivery.digest_id).where(DigestDelivery.id == row.id))
        session.rollback()
        return Claim(row.id, str(kept_id), resumed=True)


def _update_delivery(sessions: sessionmaker[Session], delivery_id: int, runner: str, **values: Any) -> None:
    with sessions() as session:
        session.execute(
            update(DigestDelivery)
            .where(DigestDelivery.id == delivery_id, DigestDelivery.claimed_by == runner)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()


# ----------------------------------------------------------------------------- the run
@dataclass
class RunResult:
    month: str
    dry_run: bool = False
    tams_total: int = 0
    tams_messaged: list[str] = field(default_factory=list)  # sent (or completed) by this run
    already_sent: list[str] = field(default_factory=list)
    in_progress_elsewhere: list[str] = field(default_factory=list)
    tams_not_found: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # "email: reason"
    accounts_without_tam: list[tuple[str, str, int]] = field(default_factory=list)
    instances_listed: int = 0
    messages_posted: int = 0
    parts_recovered: int = 0  # found already in Slack after a crash
    compose_seconds: float = 0.0
    previews: list[tuple[TamDigest, list[dict[str, Any]]]] = field(default_factory=list)  # dry run
    summary_text: str = ""
    # A scheduled pass (local_time given): when each TAM's digest is due in their own zone, and who must wait.
    due: dict[str, datetime] = field(default_factory=dict)
    not_yet: list[str] = field(default_factory=list)

    def merge(self, other: RunResult) -> None:
        for name in (
            "tams_messaged",
            "already_sent",
            "in_progress_elsewhere",
            "tams_not_found",
            "failures",
            "previews",
            "not_yet",
        ):
            getattr(self, name).extend(getattr(other, name))
        self.due.update(other.due)
        self.instances_listed += other.instances_listed
        self.messages_posted += other.messages_posted
        self.parts_recovered += other.parts_recovered

    @property
    def nothing_happened(self) -> bool:
        return not (self.tams_messaged or self.tams_not_found or self.failures or self.accounts_without_tam)


def known_tam(session: Session, email: str) -> bool:
    """Whether any account has this TAM email (any case, spaces ignored)."""
    key = func.lower(func.trim(Account.tam_email))
    return session.execute(select(Account.id).where(key == email.strip().lower()).limit(1)).first() is not None


def tam_emails(session: Session, limit: int = 10) -> list[str]:
    key = func.lower(func.trim(Account.tam_email))
    query = select(key).where(Account.tam_email.is_not(None)).distinct().order_by(key).limit(limit)
    return [e for e in session.scalars(query) if e]


def summary_line(result: RunResult, totals: tuple[int, int] | None = None) -> str:
    """One line for PRODUCT_ANALYTICS_CHANNEL; `totals` (TAMs sent, instances listed) counts the whole month
    (a scheduled digest goes out over several passes, one per time zone). A dry run counts what it would list."""
    if result.dry_run:
        # What the previews above list, counted the same way: nothing was sent.
        found = [d for d, _ in result.previews if d.tam_email not in set(result.tams_not_found)]
        would = sum(d.instance_count for d in found)
        dry = [
            f"Unknown-instance digest {result.month} (dry run): would message {plural(len(found), 'TAM')}",
            f"{plural(would, 'instance')} would be listed",
            f"{plural(len(result.tams_not_found), 'TAM')} not found in Slack",
            f"{plural(len(result.accounts_without_tam), 'account')} with Unknown instances but no TAM",
        ]
        if result.already_sent:
            dry.append(f"{len(result.already_sent):,} already had theirs")
        return "; ".join(dry) + "."
    messaged, listed = totals if totals is not None else (len(result.tams_messaged), result.instances_listed)
    parts = [
        f"Unknown-instance digest {result.month}: {plural(messaged, 'TAM')} messaged",
        f"{plural(listed, 'instance')} listed",
        f"{plural(len(result.tams_not_found), 'TAM')} not found in Slack"
        + (
            f" ({', '.join(result.tams_not_found[:10])}{'…' if len(result.tams_not_found) > 10 else ''})"
            if result.tams_not_found
            else ""
        ),
        f"{plural(len(result.accounts_without_tam), 'account')} with Unknown instances but no TAM",
    ]
    if result.already_sent and totals is None:
        parts.append(f"{len(result.already_sent)} already had theirs")
    if result.failures:
        parts.append(f"{len(result.failures)} failed (will be retried on the next run)")
    return "; ".join(parts) + "."


def run_digest(
    sessions: sessionmaker[Session],
    slack: SlackPort | None,
    render: Renderer,
    *,
    month: str,
    tam_email: str | None = None,
    dry_run: bool = False,
    pace_seconds: float = 1.0,
    now: datetime | None = None,
    on_part_posted: Callable[[str, int], None] | None = None,
    workers: int = 1,
    local_time: datetime | None = None,
    fallback_tz: str = "UTC",
) -> RunResult:
    """Compose and deliver (or, with dry_run, only compose and look up: nothing is written or sent).

    `local_time` (naive: the digest day at 09:00, say) makes this a scheduled pass: a TAM's digest goes out
    only once that time has come in the time zone of their Slack profile (else `fallback_tz`); the others
    are listed in `not_yet` for a later pass. `result.due` says when each TAM's is due (dry runs too).

    `on_part_posted(tam_email, part)` runs after Slack accepted a part and before it is recorded: tests
    use it to simulate a crash at the worst moment.
    """
    now = now or datetime.now(UTC)
    result = RunResult(month=month, dry_run=dry_run)
    started = time.perf_counter()
    with sessions() as session:
        composition = compose(session, month, now=now, tam_email=tam_email)
        delivered: dict[str, str] = dict(
            session.execute(
                select(DigestDelivery.tam_email, DigestDelivery.status).where(DigestDelivery.month == month)
            )
            .tuples()
            .all()
        )
    result.compose_seconds = time.perf_counter() - started
    result.accounts_without_tam = [] if tam_email else composition.accounts_without_tam
    result.tams_total = len(composition.digests)
    runner = runner_id()

    lock = threading.Lock()

    def one(digest: TamDigest) -> None:
        out = RunResult(month=month)  # this TAM's share, merged under the lock
        deliver_one(digest, out)
        with lock:
            result.merge(out)

    def deliver_one(digest: TamDigest, out: RunResult) -> None:
        if delivered.get(digest.tam_email) == "sent":
            out.already_sent.append(digest.tam_email)
            return
        if dry_run:
            parts = render(digest)
            out.previews.append((digest, parts))
            user_id, tz = (None, None)
            if slack is not None:
                user_id, tz = find_slack_person(sessions, slack, digest.tam_email, write=False)
                if user_id is None:
                    out.tams_not_found.append(digest.tam_email)
            if local_time is not None:
                out.due[digest.tam_email] = due_at(local_time, tz, fallback_tz)
            return
        assert slack is not None, "sending needs Slack"
        try:
            user_id, tz = find_slack_person(sessions, slack, digest.tam_email)
        except Exception as exc:  # Slack kept failing even after retries: try this TAM next run
            log.warning("lookup of %s failed: %s", digest.tam_email, exc)
            out.failures.append(f"{digest.tam_email}: Slack lookup failed ({exc})")
            return
        if user_id is None:
            out.tams_not_found.append(digest.tam_email)
            return
        if local_time is not None:
            due = out.due[digest.tam_email] = due_at(local_time, tz, fallback_tz)
            if now < due:
                out.not_yet.append(digest.tam_email)
                return
        parts = render(digest)
        ticket = claim(
            sessions,
            tam_email=digest.tam_email,
            month=month,
            runner=runner,
            parts=parts,
            instance_count=digest.instance_count,
            slack_user_id=user_id,
            # The claim's lease starts now, not when the run started: a long run must not claim already-expired.
        )
        if ticket is None:
            with sessions() as session:
                status = session.scalar(
                    select(DigestDelivery.status).where(
                        DigestDelivery.tam_email == digest.tam_email, DigestDelivery.month == month
                    )
                )
            (out.already_sent if status == "sent" else out.in_progress_elsewhere).append(digest.tam_email)
            return
        try:
            posted, recovered, count = _deliver(
                sessions, slack, ticket, runner, user_id, digest.tam_email, pace_seconds, on_part_posted
            )
        except Exception as exc:
            log.warning("digest for %s failed: %s", digest.tam_email, exc)
            _update_delivery(
                sessions,
                ticket.delivery_id,
                runner,
                last_error=str(exc)[:2000],
                claimed_until=datetime(1970, 1, 1, tzinfo=UTC),  # free for the next run at once
            )
            out.failures.append(f"{digest.tam_email}: {exc}")
            return
        out.tams_messaged.append(digest.tam_email)
        out.messages_posted += posted
        out.parts_recovered += recovered
        out.instances_listed += count

    if workers <= 1 or dry_run:
        for digest in composition.digests:
            one(digest)
    else:
        # Different TAMs are different channels: deliver several at once (pacing is per channel).
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="digest") as pool:
            for future in [pool.submit(one, d) for d in composition.digests]:
                future.result()
    for name in ("tams_messaged", "already_sent", "in_progress_elsewhere", "tams_not_found", "failures", "not_yet"):
        getattr(result, name).sort()
    result.summary_text = summary_line(result)
    return result


def _deliver(
    sessions: sessionmaker[Session],
    slack: SlackPort,
    ticket: Claim,
    runner: str,
    user_id: str,
    tam_email: str,
    pace_seconds: float,
    on_part_posted: Callable[[str, int], None] | None,
) -> tuple[int, int, int]:
    """Post the parts not yet in Slack; returns (posted, recovered from Slack, instances listed)."""
    with sessions() as session:
        row = session.get(DigestDelivery, ticket.delivery_id)
        assert row is not None
        parts: list[dict[str, Any]] = list(row.parts or [])
        sent: dict[str, str] = dict(row.sent_ts or {})
        channel = row.channel
        instance_count = row.instance_count
    if channel is None:
        channel = slack.open_dm(user_id)
        _update_delivery(sessions, ticket.delivery_id, runner, channel=channel)
    recovered = 0
    if ticket.resumed and len(sent) < len(parts):
        # A run died after posting and before recording: Slack's copy of the metadata is the truth. The DM
        # is the bot's own conversation with the TAM, so the parts are among its latest messages.
        for ts, meta in slack.recent_metadata(channel, HISTORY_SCAN_LIMIT):
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == EVENT_TYPE and payload.get("digest_id") == ticket.digest_id:
                key = str(payload.get("part"))
                if key not in sent:
                    sent[key] = ts
                    recovered += 1
        if recovered:
            _update_delivery(sessions, ticket.delivery_id, runner, sent_ts=dict(sent))
    posted = 0
    last_post = 0.0
    for number, part in enumerate(parts, start=1):
        if str(number) in sent:
            continue
        # Slack allows about one message per second per channel; only this TAM's parts share a channel.
        wait = pace_seconds - (time.monotonic() - last_post)
        if posted and wait > 0:
            time.sleep(wait)
        metadata = {
            "event_type": EVENT_TYPE,
            "event_payload": {"digest_id": ticket.digest_id, "part": number, "parts": len(parts)},
        }
        ts = slack.post(channel, part["text"], part["blocks"], metadata)
        last_post = time.monotonic()
        if on_part_posted is not None:
            on_part_posted(tam_email, number)
        sent[str(number)] = ts
        posted += 1
        _update_delivery(
            sessions,
            ticket.delivery_id,
            runner,
            sent_ts=dict(sent),
            claimed_until=datetime.now(UTC) + CLAIM_TTL,
        )
    _update_delivery(
        sessions,
        ticket.delivery_id,
        runner,
        status="sent",
        message_count=len(parts),
        sent_at=datetime.now(UTC),
        claimed_until=None,
        last_error=None,
    )
    return posted, recovered, instance_count


def summary_due(sessions: sessionmaker[Session], result: RunResult) -> bool:
    """Whether the channel should hear about this run: when it sent someone their digest, or when the month has
    no summary yet. A rerun that sent nothing (all delivered already, or still nobody to send to) stays quiet."""
    if result.tams_messaged:
        return True
    with sessions() as session:
        posted = session.scalar(
            select(func.count())
            .select_from(DigestRun)
            .where(DigestRun.month == result.month, DigestRun.summary_ts.is_not(None))
        )
    return not posted


def record_run(sessions: sessionmaker[Session], result: RunResult, summary_ts: str | None) -> None:
    with sessions() as session:
        session.add(
            DigestRun(
                month=result.month,
                finished_at=datetime.now(UTC),
                tams_messaged=len(result.tams_messaged),
                instances_listed=result.instances_listed,
                tams_not_found=list(result.tams_not_found),
                accounts_without_tam=len(result.accounts_without_tam),
                failures=list(result.failures),
                summary_ts=summary_ts,
            )
        )
        session.commit()


def month_totals(sessions: sessionmaker[Session], month: str) -> tuple[int, int, bool]:
    """(TAMs sent, instances listed, summary already posted) for `month`, over every run so far."""
    with sessions() as session:
        sent, instances = session.execute(
            select(func.count(), func.coalesce(func.sum(DigestDelivery.instance_count), 0)).where(
                DigestDelivery.month == month, DigestDelivery.status == "sent"
            )
        ).one()
        posted = session.scalar(
            select(func.count())
            .select_from(DigestRun)
            .where(DigestRun.month == month, DigestRun.summary_ts.is_not(None))
        )
    return int(sent), int(instances), bool(posted)
