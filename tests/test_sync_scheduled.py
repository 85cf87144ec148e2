"""The clock's sync (`SYNC_SOURCE`, `SYNC_CRON`): the same load, alerts and Home refreshes as `usagebot sync`;
an unchanged source skipped; the sync lock; a failure reported once to PRODUCT_ANALYTICS_CHANNEL, escaped;
a URL's password never shown or stored. Real database, fake Slack."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from click.testing import CliRunner
from fakes.slack import FakeSlack
from pydantic import SecretStr
from sqlalchemy import select
from support.sync_helpers import FIXTURE, count

from bot.cli import cli
from bot.edge import BoltSlackEdge
from db.models import SyncRun, SyncSource
from db.session import session_scope
from workflows.scheduler import active_jobs, hold_lease, parse_trigger, release_lease
from workflows.settings import Settings
from workflows.sync.scheduled import LOCK_NAME, LOCK_TTL, run_sync
from workflows.sync.scheduled import scheduled_sync as clock_sync


def scheduled_sync(settings: Settings) -> str:
    """What the clock runs: the registered job with the edge the clock hands it."""
    return clock_sync(settings, BoltSlackEdge(settings))


CHANNEL = "C0PRODANA1"
ACME_TAM = ("U0ALEX001", "alex.rivera", "alex.rivera@example.com")


def _with_source(settings: Settings, source: str) -> Settings:
    return settings.model_copy(update={"sync_source": SecretStr(source)})


def _reports(fake: FakeSlack) -> list[str]:
    return [c.params.get("text") or "" for c in fake.calls_to("chat.postMessage") if c.params["channel"] == CHANNEL]


def _break(folder: Path, since: str = "<!channel>") -> None:
    """Make the export invalid: a day that is not the first of the month, and a date that is Slack markup."""
    usage = folder / "usage_monthly.csv"
    lines = usage.read_text().splitlines()
    lines[3] = lines[3].replace("2026-10-01", "2026-10-31", 1)
    usage.write_text("\n".join(lines) + "\n")
    accounts = folder / "accounts.csv"
    rows = accounts.read_text().splitlines()
    rows.append(f"Evil Co,0016100001EvilC,{since},,,,")
    accounts.write_text("\n".join(rows) + "\n")


def test_scheduled_sync_loads_then_skips_an_unchanged_source(
    bot_settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    fake_slack.add_user(*ACME_TAM)
    folder = shutil.copytree(FIXTURE, tmp_path / "export")
    settings = _with_source(bot_settings, str(folder))
    first = scheduled_sync(settings)
    assert first.startswith(f"synced {folder}") and "Alerts:" in first  # the same follow-up as `usagebot sync`
    assert count(settings.database_url, "usage_monthly") == 10
    again = scheduled_sync(settings)
    assert "has not changed since its last successful sync; skipped" in again
    with session_scope(settings.database_url) as s:
        assert len(s.scalars(select(SyncRun)).all()) == 1  # skipped: no second load attempted
    # A copy with new timestamps but the same bytes is still unchanged; a changed file is loaded.
    shutil.copystat(FIXTURE / "accounts.csv", folder / "accounts.csv")
    assert "skipped" in scheduled_sync(settings)
    with (folder / "accounts.csv").open("a") as f:
        f.write("New Co,0016100001NewCo,2024-01-01,,,,\n")
    assert scheduled_sync(settings).startswith("synced")
    assert count(settings.database_url, "accounts") == 4
    assert _reports(fake_slack) == []


def test_a_sync_by_hand_counts_as_the_last_successful_one(bot_settings: Settings, tmp_path: Path) -> None:
    folder = shutil.copytree(FIXTURE, tmp_path / "export")
    assert CliRunner().invoke(cli, ["sync", "--no-alerts", str(folder)]).exit_code == 0
    assert "skipped" in scheduled_sync(_with_source(bot_settings, str(folder)))


def test_a_failed_sync_is_reported_once_escaped_and_retried_at_the_next_tick(
    bot_settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    folder = shutil.copytree(FIXTURE, tmp_path / "export")
    _break(folder)
    settings = _with_source(bot_settings, str(folder))
    out = scheduled_sync(settings)
    assert "rejected" in out and count(settings.database_url, "accounts") == 0
    assert "rejected: 2 problems; nothing was changed" in out, out  # a plural word, not "problem(s)"
    (report,) = _reports(fake_slack)
    assert "failed; nothing was changed" in report
    assert "usage_monthly.csv:4: snapshot_month: 2026-10-31 is not the first day of a month" in report
    assert "<!channel>" not in report and "&lt;!channel&gt;" in report  # the export's text cannot ping anyone

    # The next tick: tried again (a new sync run is recorded), still broken, not reported a second time.
    scheduled_sync(settings)
    with session_scope(settings.database_url) as s:
        assert [r.status for r in s.scalars(select(SyncRun).order_by(SyncRun.id))] == ["rejected", "rejected"]
    assert len(_reports(fake_slack)) == 1

    # Fixed: loaded; broken again later: a new failure, reported again.
    shutil.rmtree(folder)
    shutil.copytree(FIXTURE, folder)
    assert scheduled_sync(settings).startswith("synced")
    _break(folder, since="yesterday")
    scheduled_sync(settings)
    assert len(_reports(fake_slack)) == 2


def test_a_url_source_never_shows_or_stores_its_password(
    bot_settings: Settings, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    url = "postgresql+psycopg://reader:s3cr3t-pw@127.0.0.1:1/warehouse?connect_timeout=1&password=hunter2"
    settings = _with_source(bot_settings, url)
    out = scheduled_sync(settings)
    assert "failed" in out and "s3cr3t-pw" not in out and "hunter2" not in out
    (report,) = _reports(fake_slack)
    assert "s3cr3t-pw" not in report and "hunter2" not in report and "reader:***@127.0.0.1" in report
    with session_scope(settings.database_url) as s:
        rows = s.scalars(select(SyncSource)).all()
        stored = " ".join(f"{r.key} {r.description} {r.last_error}" for r in rows)
        stored += " ".join(str(r.source) + str(r.message) for r in s.scalars(select(SyncRun)))
    assert rows and "s3cr3t-pw" not in stored and "hunter2" not in stored
    assert "s3cr3t-pw" not in repr(settings) and "s3cr3t-pw" not in str(settings.model_dump())
    # The same unreachable source at the next tick: not reported again.
    scheduled_sync(settings)
    assert len(_reports(fake_slack)) == 1


def test_sql_source_fingerprint_skips_unchanged_tables(bot_settings: Settings, tmp_path: Path) -> None:
    import csv

    from sqlalchemy import create_engine, text

    source = tmp_path / "warehouse.db"
    engine = create_engine(f"sqlite:///{source}")
    with engine.begin() as conn:
        for name in ("accounts", "subscriptions", "usage_monthly"):
            with (FIXTURE / f"{name}.csv").open(newline="") as f:
                rows = list(csv.reader(f))
            cols = ", ".join(f'"{c}"' for c in rows[0])
            conn.execute(text(f'CREATE TABLE "{name}" ({cols})'))
            marks = ", ".join(f":c{i}" for i in range(len(rows[0])))
            conn.execute(
                text(f'INSERT INTO "{name}" VALUES ({marks})'),
                [{f"c{i}": (v or None) for i, v in enumerate(r)} for r in rows[1:]],
            )
    settings = _with_source(bot_settings, f"sqlite:///{source}")
    assert scheduled_sync(settings).startswith("synced")
    assert "skipped" in scheduled_sync(settings)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM usage_monthly WHERE rowid = (SELECT max(rowid) FROM usage_monthly)"))
    assert scheduled_sync(settings).startswith("synced")
    engine.dispose()


def test_two_syncs_never_run_at_once(bot_settings: Settings, tmp_path: Path) -> None:
    folder = shutil.copytree(FIXTURE, tmp_path / "export")
    url = bot_settings.database_url
    assert hold_lease(url, "other-clock", name=LOCK_NAME)
    busy = run_sync(bot_settings, str(folder), skip_unchanged=True, scheduled=True)
    assert busy.status == "busy" and count(url, "accounts") == 0
    by_hand = CliRunner().invoke(cli, ["sync", "--no-alerts", str(folder)])
    assert by_hand.exit_code == 1 and "another sync is running" in by_hand.output
    release_lease(url, "other-clock", name=LOCK_NAME)
    # The holder is named, and when its lock frees itself: a sync that died is told from one still running.
    started = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    assert hold_lease(url, "etl-7:4242:cafe0001", name=LOCK_NAME, ttl=LOCK_TTL, now=started)
    busy = run_sync(bot_settings, str(folder))
    assert busy.held_by is not None and busy.held_by.holder == "etl-7:4242:cafe0001"
    by_hand = CliRunner().invoke(cli, ["sync", "--no-alerts", str(folder)])
    assert by_hand.exit_code == 1 and "Traceback" not in by_hand.output
    for part in ("on etl-7 (process 4242)", f"started {started:%Y-%m-%d %H:%M} UTC",
                 f"frees itself by {started + LOCK_TTL:%Y-%m-%d %H:%M} UTC"):  # fmt: skip
        assert part in by_hand.output, by_hand.output
    assert "on etl-7 (process 4242)" in busy.line()
    release_lease(url, "etl-7:4242:cafe0001", name=LOCK_NAME)
    assert run_sync(bot_settings, str(folder)).status == "succeeded"
    # The lock is free again after a sync (and after a failed one).
    assert hold_lease(url, "other-clock", name=LOCK_NAME)
    release_lease(url, "other-clock", name=LOCK_NAME)


def test_the_clock_runs_the_sync_only_with_a_source_on_its_cron(bot_settings: Settings, tmp_path: Path) -> None:
    assert "scheduled_sync" not in {j.job_id for j in active_jobs(bot_settings)}
    settings = _with_source(bot_settings, str(tmp_path))
    (job,) = [j for j in active_jobs(settings) if j.job_id == "scheduled_sync"]
    weekly = parse_trigger(job.trigger, settings)
    assert isinstance(weekly, CronTrigger)
    monday = weekly.get_next_fire_time(None, datetime(2026, 12, 1, tzinfo=UTC))  # a Tuesday
    assert monday is not None and monday.weekday() == 0 and monday.hour == 6
    nightly = parse_trigger(job.trigger, settings.model_copy(update={"sync_cron": "30 2 * * *"}))
    fire = nightly.get_next_fire_time(None, datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    assert fire is not None and (fire.day, fire.hour, fire.minute) == (2, 2, 30)


def test_sync_settings_are_validated() -> None:
    from workflows.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None, sync_cron="every day")
    assert "SYNC_CRON" in str(err.value)


def test_sync_by_hand_without_a_path_runs_the_configured_source(
    bot_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = shutil.copytree(FIXTURE, tmp_path / "export")
    monkeypatch.setenv("SYNC_SOURCE", str(folder))
    out = CliRunner().invoke(cli, ["sync", "--no-alerts"])
    assert out.exit_code == 0, out.output
    assert f"Synced {folder}" in out.output and count(bot_settings.database_url, "accounts") == 3
    monkeypatch.delenv("SYNC_SOURCE")
    assert CliRunner().invoke(cli, ["sync"]).exit_code == 2
