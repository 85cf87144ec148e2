"""One entry point for a sync, by hand (`usagebot sync`) or by the clock (`SYNC_SOURCE`, `SYNC_CRON`).

`run_sync` takes the database lock "sync" (a `scheduler_leases` row: one compare-and-set, atomic on SQLite
and PostgreSQL alike), so two clocks, or a clock and a person, never load at once; it fingerprints the
source, loads it with `sync_export`, remembers the fingerprint of a successful load, and hands the result to
the follow-up (health-drop alerts and Home refreshes: the Slack edge, `workflows.ports.SlackEdge`).

The clock's job (`scheduled_sync`) skips a source whose fingerprint has not changed since its last
successful sync, and reports a failure once: the same failure at the next tick (the source still broken)
is logged, not posted again; a different one is reported. Nothing is retried in a loop: the next try is
the next tick.

A URL source may hold a password: only its password-less description is shown or stored, and the row
is keyed by a hash of the text.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from db.models.schedule import SyncSource
from db.session import rows_changed, session_scope
from workflows.ports import SlackEdge
from workflows.scheduler import LeaseHolder, hold_lease, lease_holder, new_holder_id, release_lease
from workflows.secrets import redact, safe_url
from workflows.settings import Settings
from workflows.sync.run import Progress, SyncFailed, SyncResult, sync_export
from workflows.sync.sources import CsvExport, Export, SourceError, SqlExport
from workflows.wording import plural

log = logging.getLogger("usagebot.sync")

LOCK_NAME = "sync"
# Renewed every minute while a sync runs. On SQLite the load holds the write lock and a renewal may wait
# its turn: the TTL is long enough for any SQLite-sized load, and a crashed holder frees it within the TTL.
LOCK_TTL = timedelta(minutes=30)
LOCK_RENEW_SECONDS = 60.0

Status = Literal["succeeded", "rejected", "failed", "unchanged", "busy"]


@dataclass
class SyncOutcome:
    status: Status
    description: str  # the folder, or the URL without its password
    result: SyncResult | None = None
    error: str | None = None  # why it failed (source unreadable, database refused)
    held_by: LeaseHolder | None = None  # busy: the sync holding the lock, when it could be read
    follow_up: list[str] = field(default_factory=list)  # lines from alerts and Home refreshes
    new_failure: bool = False  # a failure not reported before (the clock posts it)
    fingerprint: str | None = None  # of the source, when it could be read

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "unchanged")

    def line(self) -> str:
        """One line for logs and the clock's job result."""
        if self.status == "succeeded" and self.result is not None:
            return f"synced {self.description}: {self.result.rows_changed:,} rows changed"
        if self.status == "unchanged":
            return f"{self.description} has not changed since its last successful sync; skipped"
        if self.status == "busy":
            return f"{self.busy_text()}; skipped"
        if self.status == "rejected" and self.result is not None:
            problems = plural(self.result.problem_count, "problem")
            return f"{self.description} rejected: {problems}; nothing was changed"
        return f"sync of {self.description} failed: {self.error}"

    def busy_text(self) -> str:
        """Which sync holds the lock and until when: an operator can tell a running sync from a dead one."""
        held = self.held_by
        if held is None:
            return "another sync is running"
        host, process = held.host_and_process
        where = f" on {_printable(host)}" + (f" (process {_printable(process)})" if process else "")
        return (
            f"another sync is running: started {_when(held.acquired_at)}{where}. If it stopped without finishing, "
            f"the sync lock frees itself by {_when(held.expires_at)} (renewed every minute while a sync runs)"
        )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _printable(text: str) -> str:
    return "".join(ch for ch in text if ch.isprintable())[:80]


class SyncFollowUp(Protocol):
    """What follows a sync outside the database (the part of `workflows.ports.SlackEdge` a sync needs)."""

    def after_sync(self, result: SyncResult) -> list[str]: ...

    def report_sync_failure(self, outcome: SyncOutcome) -> None: ...


def source_key(source: str, schema: str | None) -> str:
    return hashlib.sha256(f"{source}\0{schema or ''}".encode()).hexdigest()


def is_url(source: str) -> bool:
    return "://" in source


def open_export(source: str, schema: str | None = None) -> Export:
    """A folder of CSV files, or tables behind a SQLAlchemy URL; SourceError when it cannot be opened."""
    if is_url(source):
        return SqlExport(source, schema=schema)
    if schema:
        raise SourceError("a schema only applies to a SQLAlchemy URL source")
    return CsvExport(source)


def describe(source: str) -> str:
    """The source as it may be shown and stored: a URL without its password or secret parameters."""
    return safe_url(source) if is_url(source) else source


class _Renewer(threading.Thread):
    def __init__(self, url: str, holder: str) -> None:
        super().__init__(name="sync-lock", daemon=True)
        self.url, self.holder = url, holder
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(LOCK_RENEW_SECONDS):
            try:
                hold_lease(self.url, self.holder, name=LOCK_NAME, ttl=LOCK_TTL)
            except SQLAlchemyError:  # SQLite busy while the load writes: the TTL covers it
                log.debug("sync lock renewal deferred", exc_info=True)


def _state(url: str, key: str) -> SyncSource | None:
    with session_scope(url) as session:
        row = session.get(SyncSource, key)
        if row is not None:
            session.expunge(row)
        return row


def _ensure_row(url: str, key: str, description: str) -> None:
    try:
        with session_scope(url) as session:
            if session.get(SyncSource, key) is None:
                session.add(SyncSource(key=key, description=description))
    except IntegrityError:
        pass  # another process added it at the same moment


def _record_success(url: str, key: str, description: str, fingerprint: str, now: datetime) -> None:
    _ensure_row(url, key, description)
    with session_scope(url) as session:
        session.execute(
            update(SyncSource)
            .where(SyncSource.key == key)
            .values(
                description=description,
                fingerprint=fingerprint,
                succeeded_at=now,
                failure_key=None,
                failure_reported_at=None,
                last_error=None,
            )
        )


def _record_failure(url: str, key: str, description: str, failure_key: str, error: str, now: datetime) -> bool:
    """Remember the failure; True when it is new (not the one reported last), so it is reported once."""
    _ensure_row(url, key, description)
    with session_scope(url) as session:
        changed = session.execute(
            update(SyncSource)
            .where(SyncSource.key == key)
            .where((SyncSource.failure_key.is_(None)) | (SyncSource.failure_key != failure_key))
            .values(failure_key=failure_key, failure_reported_at=now, last_error=error[:2000])
            .execution_options(synchronize_session=False)
        )
        if rows_changed(changed) != 1:
            session.execute(update(SyncSource).where(SyncSource.key == key).values(last_error=error[:2000]))
        return rows_changed(changed) == 1


def _database_reason(exc: SQLAlchemyError) -> str:
    reason = getattr(exc, "orig", None) or exc
    return (
        f"could not use the database ({type(exc).__name__}: {str(reason).splitlines()[0][:300]}); "
        "check DATABASE_URL and run `usagebot db upgrade`"
    )


def run_sync(
    settings: Settings,
    source: str,
    schema: str | None = None,
    *,
    progress: Progress | None = None,
    skip_unchanged: bool = False,
    scheduled: bool = False,
    follow_up: SyncFollowUp | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> SyncOutcome:
    """Sync `source` into DATABASE_URL under the sync lock; then the follow-up. Never raises for a bad source
    or database: the outcome says what happened. `scheduled` remembers failures (to report each once)."""
    url = settings.database_url
    description = describe(source)
    key = source_key(source, schema)
    holder = new_holder_id()
    try:
        if not hold_lease(url, holder, name=LOCK_NAME, ttl=LOCK_TTL):
            return SyncOutcome("busy", description, held_by=lease_holder(url, name=LOCK_NAME))
    except SQLAlchemyError as exc:
        return SyncOutcome("failed", description, error=_database_reason(exc), new_failure=True)
    renewer = _Renewer(url, holder)
    renewer.start()
    try:
        outcome = _locked_sync(settings, source, schema, description, key, progress, skip_unchanged, now)
        if outcome.error:
            outcome.error = redact(outcome.error)  # a driver's message may quote the URL
        if scheduled and not outcome.ok:
            # The same broken export (same fingerprint), or the same error, is the same failure.
            failure = outcome.fingerprint or hashlib.sha256((outcome.error or "").encode()).hexdigest()
            try:
                outcome.new_failure = _record_failure(
                    url, key, description, failure, outcome.error or outcome.line(), now()
                )
            except SQLAlchemyError:
                outcome.new_failure = True  # cannot remember it: better told twice than never
    finally:
        renewer.stop.set()
        try:
            release_lease(url, holder, name=LOCK_NAME)
        except SQLAlchemyError:
            log.warning("could not release the sync lock; it expires in %s", LOCK_TTL)
    if outcome.status == "succeeded" and outcome.result is not None and follow_up is not None:
        outcome.follow_up = follow_up.after_sync(outcome.result)
    return outcome


def _locked_sync(
    settings: Settings,
    source: str,
    schema: str | None,
    description: str,
    key: str,
    progress: Progress | None,
    skip_unchanged: bool,
    now: Callable[[], datetime],
) -> SyncOutcome:
    url = settings.database_url
    try:
        export = open_export(source, schema)
    except SourceError as exc:
        return SyncOutcome("failed", description, error=str(exc))
    try:
        fingerprint = export.fingerprint()
        if skip_unchanged:
            state = _state(url, key)
            if state is not None and state.fingerprint == fingerprint:
                return SyncOutcome("unchanged", description)
        result = sync_export(export, url, progress=progress)
    except (SyncFailed, SourceError) as exc:
        return SyncOutcome("failed", description, error=str(exc))
    except OSError as exc:
        return SyncOutcome("failed", description, error=f"could not read the export: {exc}")
    except SQLAlchemyError as exc:
        return SyncOutcome("failed", description, error=_database_reason(exc))
    finally:
        if isinstance(export, SqlExport):
            export.close()
    if not result.ok:
        return SyncOutcome("rejected", description, result=result, fingerprint=fingerprint)
    try:
        _record_success(url, key, description, fingerprint, now())
    except SQLAlchemyError:
        log.warning("sync succeeded but its fingerprint could not be recorded; the next tick loads it again")
    return SyncOutcome("succeeded", description, result=result, fingerprint=fingerprint)


def scheduled_sync(settings: Settings, edge: SlackEdge | None = None) -> str:
    """The clock's job (PERIODIC_JOBS): sync SYNC_SOURCE unless unchanged, then the edge's follow-up (as
    `usagebot sync`); report a new failure once through the edge."""
    secret = settings.secret("sync_source")
    if not secret:
        return "SYNC_SOURCE is not set; nothing to sync"
    follow_up: SyncFollowUp | None = edge
    outcome = run_sync(settings, secret, settings.sync_schema, skip_unchanged=True, scheduled=True, follow_up=follow_up)
    if not outcome.ok and outcome.status != "busy":
        if outcome.new_failure and follow_up is not None:
            follow_up.report_sync_failure(outcome)
        elif not outcome.new_failure:
            log.warning("scheduled sync failed again the same way (already reported): %s", outcome.line())
    return "; ".join([outcome.line(), *outcome.follow_up])
