"""The clock: periodic jobs, their triggers, and the lease that lets only one clock run them.

Adding a periodic job is one line in `PERIODIC_JOBS`:

    PeriodicJob("requests_retry", "every 5 minutes", "workflows.outbox:retry_pending"),

- job id: fixed and unique (APScheduler replaces a job with the same id, so restarts never duplicate);
- trigger spec: "every N seconds|minutes|hours|days", "cron: M H DOM MON DOW" (5 fields, in TIMEZONE),
  or "digest" (DIGEST_CRON if set, else the first working day (Mon-Fri) of the month at 09:00 in TIMEZONE),
  or "digest in local time" (passes every 15 minutes around that day, so that each TAM gets the digest at that
  time in their own Slack time zone: `workflows.digest.schedule`);
- target: "package.module:function", called as `function(settings, edge)` where `edge` is the Slack side
  (`workflows.ports.SlackEdge`, None when there is none); imported only when the job runs.
- "sync" as a trigger spec: SYNC_CRON if set, else weekly (Monday 06:00 in TIMEZONE);
- needs (optional): the name of a setting; the job is scheduled only when it is set (the sync needs SYNC_SOURCE);
- catch_up (optional, default False): if the clock was down when the job was due (within the misfire grace),
  run it once at start. Only for jobs that are safe to run twice (the digest is exactly-once by design).

Correctness never depends on there being one clock: every job must be safe to run twice at once. The
lease only avoids wasted work and duplicate log noise.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from importlib import import_module
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import case, insert, update
from sqlalchemy.exc import IntegrityError

from db.models.digest import SchedulerLease
from db.session import rows_changed, session_scope
from workflows.ports import SlackEdge
from workflows.settings import Settings

log = logging.getLogger("usagebot.scheduler")


class PeriodicJob(NamedTuple):
    job_id: str
    trigger: str
    target: str
    catch_up: bool = False
    needs: str | None = None  # a setting that must be set for the job to be scheduled at all


SYNC_DEFAULT_CRON = "0 6 * * 1"  # weekly, Monday 06:00 in TIMEZONE


# The registry. One line per job; see the module docstring.
PERIODIC_JOBS: list[PeriodicJob] = [
    PeriodicJob("monthly_digest", "digest in local time", "workflows.digest.jobs:scheduled_run", catch_up=True),
    PeriodicJob("digest_resume", "every 10 minutes", "workflows.digest.jobs:resume_unfinished"),
    PeriodicJob("requests_retry", "every 5 minutes", "workflows.outbox:retry_pending"),
    PeriodicJob("metrics_reimport", "cron: 0 6 * * 1", "workflows.metrics_import:scheduled_import"),
    PeriodicJob("scheduled_sync", "sync", "workflows.sync.scheduled:scheduled_sync", needs="sync_source"),
    # Stored scores of other rules (a deploy changed SCORING_RULES or a rules file) are rescored within minutes;
    # views compute live meanwhile, never from the stale rows.
    PeriodicJob("rescore_if_stale", "every 15 minutes", "workflows.scores:scheduled_rescore"),
]

# Hours: a clock that was busy or restarting still runs a due job late rather than never.
MISFIRE_GRACE_SECONDS = 6 * 3600
LEASE_NAME = "clock"
LEASE_TTL = timedelta(seconds=90)
HEARTBEAT_JOB_ID = "clock_lease_heartbeat"


class TriggerSpecError(ValueError):
    """A trigger spec in PERIODIC_JOBS (or DIGEST_CRON) cannot be understood."""


# ----------------------------------------------------------------------------- triggers
def first_working_day(year: int, month: int) -> date:
    day = date(year, month, 1)
    while day.weekday() >= 5:  # Saturday, Sunday
        day += timedelta(days=1)
    return day


class FirstWorkingDayTrigger(BaseTrigger):
    """Fires on the first Monday-to-Friday day of each month at a fixed local time."""

    def __init__(self, hour: int = 9, minute: int = 0, timezone: tzinfo | str = "UTC") -> None:
        self.hour = hour
        self.minute = minute
        self.timezone = ZoneInfo(timezone) if isinstance(timezone, str) else timezone

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        start = now if previous_fire_time is None else max(now, previous_fire_time + timedelta(microseconds=1))
        local = start.astimezone(self.timezone)
        year, month = local.year, local.month
        for _ in range(3):
            day = first_working_day(year, month)
            fire = datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=self.timezone)
            if fire >= start:
                return fire
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return None  # unreachable: some month within three always has a future first working day

    def previous_fire_time(self, now: datetime) -> datetime:
        """The latest scheduled time at or before `now` (for catch-up after downtime)."""
        local = now.astimezone(self.timezone)
        year, month = local.year, local.month
        for _ in range(2):
            day = first_working_day(year, month)
            fire = datetime(day.year, day.month, day.day, self.hour, self.minute, tzinfo=self.timezone)
            if fire <= now:
                return fire
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return fire

    def __str__(self) -> str:
        return f"first working day of the month at {self.hour:02d}:{self.minute:02d} ({self.timezone})"

    def __repr__(self) -> str:
        return f"<FirstWorkingDayTrigger {self}>"


EVERY_SPEC = re.compile(r"^every\s+(\d+)\s*(second|minute|hour|day)s?$", re.IGNORECASE)


_DOW_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def crontab_trigger(expr: str, tz: tzinfo) -> CronTrigger:
    """A standard 5-field crontab in `tz`.

    APScheduler 3 numbers weekdays from Monday = 0, unlike crontab (Sunday = 0 or 7); numeric
    weekdays are translated to names so "0 9 * * 1" means Monday as every cron user expects.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise TriggerSpecError(f"{expr!r}: expected 5 fields (M H DOM MON DOW)")

    def dow_name(match: re.Match[str]) -> str:
        n = int(match.group(0))
        if n > 7:
            raise TriggerSpecError(f"{expr!r}: day of week {n} is not 0-7")
        return _DOW_NAMES[n]

    parts = []
    for part in fields[4].split(","):
        rng, slash, step = part.partition("/")
        parts.append(re.sub(r"\d+", dow_name, rng) + slash + step)
    minute, hour, day, month, _ = fields
    try:
        return CronTrigger(minute=minute, hour=hour, day=day, month=month, day_of_week=",".join(parts), timezone=tz)
    except ValueError as exc:
        raise TriggerSpecError(f"{expr!r}: {exc}") from exc


def parse_trigger(spec: str, settings: Settings) -> BaseTrigger:
    """Turn a registry trigger spec into an APScheduler trigger in the configured time zone."""
    tz = ZoneInfo(settings.timezone)
    text = spec.strip()
    if text == "digest":
        if settings.digest_cron:
            return crontab_trigger(settings.digest_cron, tz)
        return FirstWorkingDayTrigger(hour=9, minute=0, timezone=tz)
    if text == "digest in local time":
        from workflows.digest.schedule import LocalDigestTrigger

        return LocalDigestTrigger(parse_trigger("digest", settings), tz)
    if text == "sync":
        return crontab_trigger(settings.sync_cron or SYNC_DEFAULT_CRON, tz)
    if text.startswith("cron:"):
        return crontab_trigger(text.removeprefix("cron:").strip(), tz)
    match = EVERY_SPEC.match(text)
    if match:
        amount = int(match.group(1))
        if amount <= 0:
            raise TriggerSpecError(f"{spec!r}: the interval must be positive")
        return IntervalTrigger(**{match.group(2).lower() + "s": amount}, timezone=tz)
    raise TriggerSpecError(f"{spec!r}: expected 'digest', 'every N minutes' or 'cron: M H DOM MON DOW'")


Job = Callable[[Settings, SlackEdge | None], Any]


def resolve_target(target: str) -> Job:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise TriggerSpecError(f"{target!r}: expected 'package.module:function'")
    return getattr(import_module(module_name), attr)


# ----------------------------------------------------------------------------- the single-clock lease
def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def hold_lease(
    url: str, holder: str, *, name: str = LEASE_NAME, ttl: timedelta = LEASE_TTL, now: datetime | None = None
) -> bool:
    """Take or renew the lease; True if `holder` now holds it until now + ttl.

    One compare-and-set UPDATE (ours, or expired) and, if no row exists yet, an INSERT that the
    primary key lets only one process win: atomic on PostgreSQL and SQLite alike.
    """
    now = now or datetime.now(UTC)
    with session_scope(url) as session:
        result = session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name)
            .where((SchedulerLease.holder == holder) | (SchedulerLease.expires_at < now))
            # A renewal keeps the time it was taken; a takeover starts its own.
            .values(
                holder=holder,
                expires_at=now + ttl,
                acquired_at=case((SchedulerLease.holder == holder, SchedulerLease.acquired_at), else_=now),
            )
            .execution_options(synchronize_session=False)
        )
        if rows_changed(result) == 1:
            return True
        if session.get(SchedulerLease, name) is not None:
            return False
    try:
        with session_scope(url) as session:
            session.execute(
                insert(SchedulerLease).values(name=name, holder=holder, expires_at=now + ttl, acquired_at=now)
            )
        return True
    except IntegrityError:
        return False  # another clock inserted it first


class LeaseHolder(NamedTuple):
    """Who holds a lease (`new_holder_id`: host, process id, a random part), since when, and until when unless
    renewed."""

    holder: str
    acquired_at: datetime
    expires_at: datetime

    @property
    def host_and_process(self) -> tuple[str, str]:
        host, _, rest = self.holder.partition(":")
        return host, rest.partition(":")[0]


def lease_holder(url: str, *, name: str = LEASE_NAME, now: datetime | None = None) -> LeaseHolder | None:
    """The lease's current holder, or None when nobody holds it (no row, or expired)."""
    now = now or datetime.now(UTC)
    with session_scope(url) as session:
        row = session.get(SchedulerLease, name)
        if row is None:
            return None
        found = LeaseHolder(row.holder, _aware(row.acquired_at), _aware(row.expires_at))
    return found if found.expires_at >= now else None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite drops the zone


def release_lease(url: str, holder: str, *, name: str = LEASE_NAME) -> None:
    with session_scope(url) as session:
        session.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
            .values(expires_at=datetime(1970, 1, 1, tzinfo=UTC))
            .execution_options(synchronize_session=False)
        )


# ----------------------------------------------------------------------------- building and running the clock
def run_registered_job(
    job_id: str, target: str, settings: Settings, holder: str | None = None, edge: SlackEdge | None = None
) -> Any:
    """What APScheduler calls: checks the lease (if any), then runs the job; failures are logged, not fatal."""
    if holder is not None and not hold_lease(settings.database_url, holder):
        log.warning("job %s skipped: this clock no longer holds the lease", job_id)
        return None
    log.info("job %s starting", job_id)
    try:
        result = resolve_target(target)(settings, edge)
    except Exception:
        log.exception("job %s failed", job_id)
        return None
    log.info("job %s done: %s", job_id, result)
    return result


def active_jobs(settings: Settings) -> list[PeriodicJob]:
    """The jobs of PERIODIC_JOBS this configuration runs (a job whose `needs` setting is unset is left out)."""
    jobs = [PeriodicJob(*job) for job in PERIODIC_JOBS]
    return [job for job in jobs if job.needs is None or getattr(settings, job.needs, None)]


def add_jobs(
    scheduler: Any,
    settings: Settings,
    holder: str | None = None,
    now: datetime | None = None,
    edge: SlackEdge | None = None,
) -> None:
    """Register every active job of PERIODIC_JOBS on `scheduler` (fixed ids, replace_existing, coalesce, grace)."""
    now = now or datetime.now(UTC)
    seen: set[str] = set()
    for job in active_jobs(settings):
        if job.job_id in seen:
            raise TriggerSpecError(f"duplicate job id {job.job_id!r} in PERIODIC_JOBS")
        seen.add(job.job_id)
        trigger = parse_trigger(job.trigger, settings)
        extra: dict[str, Any] = {}
        if job.catch_up:
            missed = last_fire_time(trigger, now)
            if missed is not None and now - missed <= timedelta(seconds=MISFIRE_GRACE_SECONDS):
                # Due while no clock ran: APScheduler sees a past run time within the grace and runs it once.
                extra["next_run_time"] = missed
        scheduler.add_job(
            run_registered_job,
            trigger=trigger,
            args=[job.job_id, job.target, settings, holder, edge],
            id=job.job_id,
            name=job.job_id,
            replace_existing=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            coalesce=True,
            max_instances=1,
            **extra,
        )


def last_fire_time(trigger: BaseTrigger, now: datetime) -> datetime | None:
    """The most recent time `trigger` was due at or before `now` (within the grace window), if any."""
    if isinstance(trigger, FirstWorkingDayTrigger):
        return trigger.previous_fire_time(now)
    # Walk forward from the start of the grace window; cheap for the daily-or-rarer triggers that catch up.
    probe = now - timedelta(seconds=MISFIRE_GRACE_SECONDS)
    last: datetime | None = None
    fire = trigger.get_next_fire_time(None, probe)
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return last


def run_clock(
    settings: Settings,
    stop: threading.Event | None = None,
    *,
    edge: SlackEdge | None = None,
    poll_seconds: float | None = None,
) -> None:
    """The `clock` process: stand by until holding the lease, then run the jobs on a BlockingScheduler.

    A heartbeat job renews the lease; if it is lost (e.g. the process was paused longer than the
    TTL and another clock took over) or `stop` is set, the scheduler stops and this process goes
    back to standing by (or returns).
    """
    from apscheduler.schedulers import SchedulerNotRunningError
    from apscheduler.schedulers.blocking import BlockingScheduler

    stop = stop or threading.Event()
    holder = new_holder_id()
    poll = poll_seconds if poll_seconds is not None else LEASE_TTL.total_seconds() / 3
    url = settings.database_url
    try:
        while not stop.is_set():
            if not hold_lease(url, holder):
                log.info("another clock holds the lease; standing by")
                stop.wait(poll)
                continue
            log.info("clock %s holds the lease; jobs: %s", holder, ", ".join(j.job_id for j in active_jobs(settings)))
            scheduler = BlockingScheduler(timezone=ZoneInfo(settings.timezone))
            add_jobs(scheduler, settings, holder, edge=edge)

            def heartbeat(scheduler: BlockingScheduler = scheduler) -> None:
                if stop.is_set():
                    scheduler.shutdown(wait=False)
                elif not hold_lease(url, holder):
                    log.warning("clock %s lost the lease; standing by", holder)
                    scheduler.shutdown(wait=False)

            scheduler.add_job(
                heartbeat, IntervalTrigger(seconds=poll), id=HEARTBEAT_JOB_ID, replace_existing=True, coalesce=True
            )

            def stop_on_signal(scheduler: BlockingScheduler = scheduler) -> None:
                # SIGTERM sets `stop`: shut down now rather than at the next heartbeat.
                stop.wait()
                with contextlib.suppress(SchedulerNotRunningError):
                    scheduler.shutdown(wait=False)

            threading.Thread(target=stop_on_signal, daemon=True, name="clock-stop").start()
            scheduler.start()  # blocks until heartbeat() or stop_on_signal() shuts it down
    finally:
        release_lease(url, holder)
