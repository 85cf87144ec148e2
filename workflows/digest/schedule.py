"""When each TAM gets the monthly digest: on the digest day, at the digest's wall-clock time (09:00 by default)
in the time zone of their Slack profile, falling back to TIMEZONE.

The digest day and time come from the "digest" trigger (the first working day at 09:00 in TIMEZONE, or the
first firing of DIGEST_CRON in the month): its local date and time, the "wall time", is then read in each
TAM's own zone. Time zones run from UTC+14 to UTC-12, so the TAMs' due times spread over the 26 hours around
the wall time read as UTC. `LocalDigestTrigger` wakes the clock every 15 minutes in that window (plus the
scheduler's misfire grace, so a clock that was down catches up), and each pass delivers to the TAMs whose
time has come, through the same claim protocol as always: exactly once per TAM and month.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger

from workflows.settings import Settings

EARLIEST = timedelta(hours=14)  # the most eastern zone (UTC+14) reaches the wall time first
LATEST = timedelta(hours=12)  # the most western (UTC-12) last
PASS_EVERY = timedelta(minutes=15)  # zones are offset by whole quarter hours
LATE_GRACE = timedelta(hours=6)  # as the scheduler's misfire grace: a clock down for a while still delivers


def month_key(d: datetime) -> str:
    return f"{d.year:04d}-{d.month:02d}"


def zone(name: str | None, fallback: str) -> tzinfo:
    """The IANA zone `name`, or `fallback` when Slack gave none or one this system does not know."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo(fallback)


def wall_time(base: BaseTrigger, tz: tzinfo, month: str) -> datetime | None:
    """The digest's local date and time in `month` (naive), from the first firing of `base` in that month."""
    year, mon = (int(x) for x in month.split("-"))
    fire = base.get_next_fire_time(None, datetime(year, mon, 1, tzinfo=tz))
    if fire is None:
        return None
    local = fire.astimezone(tz)
    if (local.year, local.month) != (year, mon):
        return None  # the trigger does not fire in this month
    return local.replace(tzinfo=None)


def due_at(wall: datetime, tz_name: str | None, fallback: str) -> datetime:
    """When a TAM in zone `tz_name` gets the digest of wall time `wall` (an aware datetime)."""
    return wall.replace(tzinfo=zone(tz_name, fallback))


def scheduled_wall_time(settings: Settings, month: str) -> datetime | None:
    """The digest's wall time in `month` as configured (DIGEST_CRON or the first working day at 09:00)."""
    from workflows.scheduler import parse_trigger

    return wall_time(parse_trigger("digest", settings), ZoneInfo(settings.timezone), month)


def when_text(due: datetime) -> str:
    """'due 2026-12-01 09:00 America/New_York (14:00 UTC)'."""
    utc = due.astimezone(UTC)
    return f"due {due:%Y-%m-%d %H:%M} {due.tzinfo} ({utc:%Y-%m-%d %H:%M} UTC)"


def window(wall: datetime) -> tuple[datetime, datetime]:
    """(first, last) instant (UTC) some TAM's digest can be due or caught up, for a wall time."""
    as_utc = wall.replace(tzinfo=UTC)
    return as_utc - EARLIEST, as_utc + LATEST + LATE_GRACE


def _months_from(now: datetime, tz: tzinfo, count: int) -> list[str]:
    local = (now - timedelta(days=3)).astimezone(tz)
    year, mon = local.year, local.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{mon:02d}")
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return out


def due_window(base: BaseTrigger, tz: tzinfo, now: datetime) -> tuple[str, datetime] | None:
    """(month, wall time) of the digest whose window holds `now`, if any."""
    for month in _months_from(now, tz, 3):
        wall = wall_time(base, tz, month)
        if wall is None:
            continue
        first, last = window(wall)
        if first <= now <= last:
            return month, wall
    return None


class LocalDigestTrigger(BaseTrigger):
    """Fires every 15 minutes through each month's digest window (see the module docstring)."""

    def __init__(self, base: BaseTrigger, timezone: tzinfo) -> None:
        self.base = base
        self.timezone = timezone

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        start = now if previous_fire_time is None else max(now, previous_fire_time + timedelta(microseconds=1))
        for month in _months_from(start, self.timezone, 15):
            wall = wall_time(self.base, self.timezone, month)
            if wall is None:
                continue
            first, last = window(wall)
            if last < start:
                continue
            if start <= first:
                return first
            steps = -(-(start - first) // PASS_EVERY)  # ceiling: the next quarter hour of the window
            fire = first + steps * PASS_EVERY
            if fire <= last:
                return fire
        return None

    def __str__(self) -> str:
        return f"{self.base}, at that local time in each TAM's Slack time zone (fallback {self.timezone})"

    def __repr__(self) -> str:
        return f"<LocalDigestTrigger {self}>"
