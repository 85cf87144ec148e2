"""A trigger spec of `PERIODIC_JOBS` in people's words, for `usagebot scheduler --list`.

APScheduler's own `str()` of a trigger ("cron[month='*', day='*', day_of_week='mon', hour='6', minute='0']")
is for its developers; an on-call engineer reading the clock's plan wants "every Monday at 06:00". Specs
too irregular to say simply are shown as the crontab they are.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger

from workflows.digest.schedule import LocalDigestTrigger
from workflows.scheduler import EVERY_SPEC, SYNC_DEFAULT_CRON
from workflows.settings import Settings

_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_NAMES = {name[:3].lower(): i for i, name in enumerate(_DAYS[:7])}
_FIRST_WORKING_DAY = "on the first working day of the month at 09:00"


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _weekday(token: str) -> str | None:
    token = token.strip().lower()
    if token.isdigit():
        n = int(token)
        return _DAYS[n] if 0 <= n <= 7 else None
    i = _DAY_NAMES.get(token[:3])
    return _DAYS[i] if i is not None else None


def cron_words(expr: str) -> str:
    """'0 6 * * 1' -> 'every Monday at 06:00'; anything irregular -> "cron '…'"."""
    fields = expr.split()
    plain = f"cron '{expr.strip()}'"
    if len(fields) != 5:
        return plain
    minute, hour, day, month, dow = fields
    if not (minute.isdigit() and hour.isdigit()) or int(minute) > 59 or int(hour) > 23:
        return plain
    at = f"at {int(hour):02d}:{int(minute):02d}"
    if month != "*":
        return plain
    if day == "*" and dow == "*":
        return f"every day {at}"
    if day == "*":
        names = [_weekday(t) for t in dow.split(",")]
        if dow.lower() == "1-5" or dow.lower() == "mon-fri":
            return f"every weekday (Monday to Friday) {at}"
        if all(names):
            return "every " + " and ".join(n for n in names if n) + f" {at}"
        return plain
    if dow == "*" and day.isdigit() and 1 <= int(day) <= 31:
        return f"on the {_ordinal(int(day))} of every month {at}"
    return plain


def schedule_words(spec: str, settings: Settings) -> str:
    """A `PeriodicJob.trigger` spec said plainly, with the time zone its times are in."""
    tz = settings.timezone
    text = spec.strip()
    if text == "digest":
        return f"{_digest_base(settings)} ({tz})"
    if text == "digest in local time":
        return f"{_digest_base(settings)}, in each TAM's own Slack time zone (else {tz})"
    if text == "sync":
        return f"{cron_words(settings.sync_cron or SYNC_DEFAULT_CRON)} ({tz})"
    if text.startswith("cron:"):
        return f"{cron_words(text.removeprefix('cron:'))} ({tz})"
    match = EVERY_SPEC.match(text)
    if match:
        n, unit = int(match.group(1)), match.group(2).lower()
        return f"every {unit}" if n == 1 else f"every {n} {unit}s"
    return text


def _digest_base(settings: Settings) -> str:
    return cron_words(settings.digest_cron) if settings.digest_cron else _FIRST_WORKING_DAY


def next_run_words(trigger: BaseTrigger, now: datetime, settings: Settings) -> str:
    """When the job runs next, in the configured time zone ('2026-12-07 06:00 CET'), or 'never'.

    The digest in local time passes every 15 minutes around its day; its next run is the day and time TAMs
    see, not the first pass (which is already the next day for the time zones furthest east).
    """
    local = isinstance(trigger, LocalDigestTrigger)
    fire = (trigger.base if isinstance(trigger, LocalDigestTrigger) else trigger).get_next_fire_time(None, now)
    if fire is None:
        return "never"
    fire = fire.astimezone(ZoneInfo(settings.timezone))
    return fire.strftime("%Y-%m-%d %H:%M") + (" in each TAM's time zone" if local else fire.strftime(" %Z"))
