"""The clock: job ids and triggers (first working day 09:00 in TIMEZONE, DIGEST_CRON), catch-up, and the lease."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from db.models import SchedulerLease
from db.session import session_scope
from workflows import scheduler as sched
from workflows.digest.schedule import LocalDigestTrigger
from workflows.scheduler import (
    MISFIRE_GRACE_SECONDS,
    PERIODIC_JOBS,
    FirstWorkingDayTrigger,
    TriggerSpecError,
    add_jobs,
    first_working_day,
    hold_lease,
    lease_holder,
    parse_trigger,
    release_lease,
    run_clock,
    run_registered_job,
)
from workflows.settings import Settings, load_settings

BERLIN = ZoneInfo("Europe/Berlin")


def _settings(db_url: str, **kw: str) -> Settings:
    return load_settings(_env_file=None, database_url=db_url, **kw)


def test_first_working_day_skips_weekends() -> None:
    assert first_working_day(2026, 8) == date(2026, 8, 3)  # Sat 1st -> Mon 3rd
    assert first_working_day(2026, 11) == date(2026, 11, 2)  # Sun 1st -> Mon 2nd
    assert first_working_day(2026, 12) == date(2026, 12, 1)  # Tue 1st


def test_digest_trigger_fires_first_working_day_at_nine_local(db_url: str) -> None:
    trigger = parse_trigger("digest", _settings(db_url, timezone="Europe/Berlin"))
    assert isinstance(trigger, FirstWorkingDayTrigger)
    now = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    fires = []
    fire = trigger.get_next_fire_time(None, now)
    for _ in range(6):
        assert fire is not None
        fires.append(fire)
        fire = trigger.get_next_fire_time(fire, fire)
    local = [f.astimezone(BERLIN) for f in fires]
    assert [d.date() for d in local] == [
        date(2026, 8, 3),
        date(2026, 9, 1),
        date(2026, 10, 1),
        date(2026, 11, 2),
        date(2026, 12, 1),
        date(2027, 1, 1),
    ]
    assert all((d.hour, d.minute) == (9, 0) for d in local)
    # 09:00 Berlin is 07:00 UTC in summer and 08:00 UTC in winter.
    assert fires[0].astimezone(UTC).hour == 7 and fires[3].astimezone(UTC).hour == 8
    # On the day itself, before 09:00 it is today; after, next month.
    on_day = datetime(2026, 12, 1, 7, 59, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, on_day).astimezone(BERLIN).date() == date(2026, 12, 1)
    after = datetime(2026, 12, 1, 8, 1, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, after).astimezone(BERLIN).date() == date(2027, 1, 1)


def test_digest_cron_overrides_with_crontab_weekdays(db_url: str) -> None:
    trigger = parse_trigger("digest", _settings(db_url, timezone="America/New_York", digest_cron="30 8 * * 1"))
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 27, 12, 0, tzinfo=UTC))  # a Friday
    local = fire.astimezone(ZoneInfo("America/New_York"))
    assert (local.date(), local.hour, local.minute) == (date(2026, 11, 30), 8, 30)  # Monday, as crontab means "1"
    sunday = parse_trigger("cron: 0 3 * * 0", _settings(db_url))
    assert sunday.get_next_fire_time(None, datetime(2026, 11, 27, tzinfo=UTC)).date() == date(2026, 11, 29)


@pytest.mark.parametrize("spec", ["every 0 minutes", "hourly", "cron: * * *", "cron: 0 9 * * 9"])
def test_bad_trigger_specs_are_refused(db_url: str, spec: str) -> None:
    with pytest.raises(TriggerSpecError):
        parse_trigger(spec, _settings(db_url))


def test_jobs_have_fixed_ids_and_safe_options(db_url: str) -> None:
    settings = _settings(db_url, timezone="Europe/Berlin")
    scheduler = BackgroundScheduler(timezone=BERLIN)
    add_jobs(scheduler, settings)
    add_jobs(scheduler, settings)  # a restart re-adds: replace_existing keeps one job per id
    jobs = {job.id: job for job in scheduler.get_jobs()}
    # Every job, except those whose setting is unset (the scheduled sync without SYNC_SOURCE).
    assert set(jobs) == {job.job_id for job in PERIODIC_JOBS if job.needs is None}
    assert "monthly_digest" in jobs and "scheduled_sync" not in jobs
    for job in jobs.values():
        assert job.coalesce is True and job.misfire_grace_time == MISFIRE_GRACE_SECONDS >= 3600
        assert job.max_instances == 1
    digest = jobs["monthly_digest"].trigger
    assert isinstance(digest, LocalDigestTrigger) and isinstance(digest.base, FirstWorkingDayTrigger)
    assert all(isinstance(j[2], str) and ":" in j[2] for j in PERIODIC_JOBS)  # dotted targets
    for job in PERIODIC_JOBS:
        sched.resolve_target(job[2])  # every registered target imports


def test_missed_digest_is_caught_up_at_start(db_url: str) -> None:
    settings = _settings(db_url, timezone="Europe/Berlin")
    due = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 09:00 Berlin
    scheduler = BackgroundScheduler(timezone=BERLIN)
    add_jobs(scheduler, settings, now=due + timedelta(hours=2))
    job = scheduler.get_job("monthly_digest")
    # A pass was due a few minutes ago (passes run every 15 minutes around the digest day): one runs at start
    # (the digest is exactly-once anyway).
    assert due + timedelta(hours=1, minutes=45) <= job.next_run_time <= due + timedelta(hours=2)
    late = BackgroundScheduler(timezone=BERLIN)
    add_jobs(late, settings, now=due + timedelta(days=3))  # beyond the window and its grace: wait for next month
    assert getattr(late.get_job("monthly_digest"), "next_run_time", None) is None


def test_lease_one_holder_expiry_and_release(db_url: str) -> None:
    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    assert hold_lease(db_url, "clock-a", now=t0)
    assert not hold_lease(db_url, "clock-b", now=t0 + timedelta(seconds=10))
    assert hold_lease(db_url, "clock-a", now=t0 + timedelta(seconds=60))  # renew
    # A renewal keeps the time the lease was taken and moves its end.
    assert lease_holder(db_url, now=t0 + timedelta(seconds=61)) == ("clock-a", t0, t0 + timedelta(seconds=150))
    assert not hold_lease(db_url, "clock-b", now=t0 + timedelta(seconds=120))  # renewed until t0+150s
    assert hold_lease(db_url, "clock-b", now=t0 + timedelta(seconds=151))  # expired: taken over
    taken = t0 + timedelta(seconds=151)
    assert lease_holder(db_url, now=taken) == ("clock-b", taken, taken + timedelta(seconds=90))
    assert not hold_lease(db_url, "clock-a", now=t0 + timedelta(seconds=152))
    release_lease(db_url, "clock-b")
    assert lease_holder(db_url) is None  # released: nobody holds it
    assert hold_lease(db_url, "clock-a")


def test_concurrent_lease_grabs_have_one_winner(db_url: str) -> None:
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def grab(name: str) -> None:
        barrier.wait()
        if hold_lease(db_url, name):
            wins.append(name)

    threads = [threading.Thread(target=grab, args=(f"clock-{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(wins) == 1


TICKS: list[str] = []


def tick(settings: Settings, _edge: object) -> str:
    TICKS.append(settings.database_url)
    return "ticked"


def test_job_skips_when_lease_is_held_elsewhere(db_url: str) -> None:
    settings = _settings(db_url)
    TICKS.clear()
    assert hold_lease(db_url, "other-clock")
    assert run_registered_job("t", f"{__name__}:tick", settings, holder="me") is None
    assert TICKS == []
    assert run_registered_job("t", f"{__name__}:tick", settings, holder="other-clock") == "ticked"
    assert [db_url] == TICKS


def test_second_clock_stands_by_until_first_stops(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _settings(db_url)
    monkeypatch.setattr(sched, "PERIODIC_JOBS", [sched.PeriodicJob("tick", "every 1 seconds", f"{__name__}:tick")])
    TICKS.clear()
    stop_a, stop_b = threading.Event(), threading.Event()
    a = threading.Thread(target=run_clock, args=(settings, stop_a), kwargs={"poll_seconds": 0.2})
    a.start()

    def holder() -> str | None:
        with session_scope(db_url) as s:
            row = s.scalars(select(SchedulerLease)).first()
            return row.holder if row else None

    deadline = time.time() + 10
    while holder() is None and time.time() < deadline:
        time.sleep(0.05)
    first = holder()
    assert first is not None
    b = threading.Thread(target=run_clock, args=(settings, stop_b), kwargs={"poll_seconds": 0.2})
    b.start()
    time.sleep(1.5)
    assert holder() == first  # B stands by
    assert TICKS, "the holding clock runs its jobs"
    stop_a.set()
    a.join(10)
    deadline = time.time() + 10
    while holder() == first and time.time() < deadline:
        time.sleep(0.05)
    assert holder() not in (None, first)  # B took over once A let go
    stop_b.set()
    b.join(10)
    assert not a.is_alive() and not b.is_alive()
