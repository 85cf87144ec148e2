"""`usagebot scheduler --list` says each job's schedule in words, not APScheduler's reprs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from workflows.schedule_words import cron_words, next_run_words, schedule_words
from workflows.scheduler import parse_trigger
from workflows.settings import Settings


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("0 6 * * 1", "every Monday at 06:00"),
        ("0 6 * * 0", "every Sunday at 06:00"),
        ("0 6 * * 7", "every Sunday at 06:00"),
        ("15 9 * * mon,thu", "every Monday and Thursday at 09:15"),
        ("0 7 * * 1-5", "every weekday (Monday to Friday) at 07:00"),
        ("30 23 * * *", "every day at 23:30"),
        ("0 8 1 * *", "on the 1st of every month at 08:00"),
        ("0 8 22 * *", "on the 22nd of every month at 08:00"),
        ("0 8 11 * *", "on the 11th of every month at 08:00"),
        ("*/5 * * * *", "cron '*/5 * * * *'"),
        ("0 8 1 6 *", "cron '0 8 1 6 *'"),
        ("0 6 * * 2-4", "cron '0 6 * * 2-4'"),
        ("not a cron", "cron 'not a cron'"),
    ],
)
def test_cron_words(expr: str, words: str) -> None:
    assert cron_words(expr) == words


def _settings(**values: str) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_specs_in_words_name_their_time_zone() -> None:
    s = _settings(timezone="Europe/Berlin")
    assert schedule_words("every 1 hour", s) == "every hour"
    assert schedule_words("every 5 minutes", s) == "every 5 minutes"
    assert schedule_words("cron: 0 6 * * 1", s) == "every Monday at 06:00 (Europe/Berlin)"
    assert schedule_words("sync", s) == "every Monday at 06:00 (Europe/Berlin)"
    assert schedule_words("digest", s) == "on the first working day of the month at 09:00 (Europe/Berlin)"
    custom = _settings(timezone="UTC", digest_cron="30 8 2 * *", sync_cron="0 3 * * *")
    assert schedule_words("digest", custom) == "on the 2nd of every month at 08:30 (UTC)"
    assert schedule_words("sync", custom) == "every day at 03:00 (UTC)"


def test_next_run_of_the_local_time_digest_is_the_day_tams_see() -> None:
    s = _settings(timezone="UTC")
    now = datetime(2026, 12, 6, 2, 0, tzinfo=UTC)
    # Its first pass starts the evening before for the time zones furthest east; people read the day itself.
    local = parse_trigger("digest in local time", s)
    assert next_run_words(local, now, s) == "2027-01-01 09:00 in each TAM's time zone"
    assert next_run_words(parse_trigger("cron: 0 6 * * 1", s), now, s) == "2026-12-07 06:00 UTC"
