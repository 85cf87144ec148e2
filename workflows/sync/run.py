"""A sync: validate every row, load in one transaction, record the run.

Validation streams: accounts, then subscriptions, then usage rows. While no problem has been found,
validated rows are loaded as they come (usage rows by a writer thread, so the database works while
Python parses the next batch), all inside one transaction that is committed only when the whole
export was clean. Nobody sees a half-loaded export: on the first problem loading stops, validation
goes on to report everything, and the transaction rolls back. The rejected run is then recorded
in a small transaction of its own.

On SQLite the transaction holds the database's write lock while the usage rows load; SQLite is for
development and demos, PostgreSQL (row locks only) for production.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from db.models.base import utcnow
from db.models.usage import Account, Subscription, SyncRun
from db.session import get_engine, session_scope
from workflows.scores import RescoreResult, ScoreBasis, after_sync
from workflows.secrets import redact
from workflows.sync import bulk, columnar, validating_process
from workflows.sync.bulk import BulkResult
from workflows.sync.contract import extra_metric_columns
from workflows.sync.deferred_indexes import DeferredIndexes
from workflows.sync.layouts import layout_id
from workflows.sync.merge import USAGE_FIELDS, Changes, Merger
from workflows.sync.sources import CsvExport, Export, SourceError, TableReader, batched
from workflows.sync.stage import STAGE_TABLES, Stager
from workflows.sync.touched import TouchedAccounts
from workflows.sync.validate import Validator

BATCH = 10_000
# Usage rows per upsert: big enough that per-statement work (joining the batch to the instances on
# PostgreSQL) is amortized, small enough that the batches in flight (one being read, one queued,
# one being written; about 2 KB a row) stay under 100 MB.
USAGE_BATCH = 10_000
# Rows a batch when a forked process validates them (workflows/sync/validating_process.py): each batch exists
# several times over at once (built, pickled, sent, unpickled, bound), so smaller ones keep both processes'
# memory down; the pipe costs little per batch.
PIPED_BATCH = 2_500
log = logging.getLogger(__name__)


class Progress(Protocol):
    """How a caller follows a long sync (the CLI draws a bar); all calls are optional to honour."""

    def start(self, label: str, total: int | None) -> None: ...
    def update(self, done: int) -> None: ...
    def finish(self) -> None: ...


class SyncFailed(Exception):
    """The database refused the load (after validation passed); nothing was written."""


@dataclass
class SyncResult:
    status: str  # "succeeded" | "rejected"
    source: str
    run_id: int | None
    accounts: int = 0
    subscriptions: int = 0
    instances: int = 0
    usage_rows: int = 0
    as_of_month: date | None = None
    changes: Changes = field(default_factory=Changes)
    problem_count: int = 0
    problems: list[str] = field(default_factory=list)  # the first ones, in the order found
    # Where the time went: validating and loading, then the scoring step (None when nothing was rescored).
    load_seconds: float | None = None
    scoring: RescoreResult | None = None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def rows_changed(self) -> int:
        return self.changes.total


def _record_rejected(database_url: str, result: SyncResult, started: Any, status: str, message: str) -> int:
    with session_scope(database_url) as s:
        run = SyncRun(
            source=result.source,
            started_at=started,
            finished_at=utcnow(),
            status=status,
            accounts=result.accounts,
            subscriptions=result.subscriptions,
            usage_rows=result.usage_rows,
            as_of_month=result.as_of_month,
            problems=result.problem_count,
            message=message,
        )
        s.add(run)
        s.flush()
        return run.id


class _BatchWriter:
    """Writes batches of validated usage rows into the sync's transaction, from whichever thread calls it."""

    def __init__(self, stager: Stager, merger: Merger, changes: Changes) -> None:
        self.stager, self.merger, self.changes = stager, merger, changes
        # SQLite upserts each batch straight from the rows (no staging table); PostgreSQL COPYs it.
        self.ids: dict[str, int] | None = None if merger.pg else merger.instance_ids()

    def write(self, batch: list[tuple[Any, ...]]) -> None:
        if self.ids is not None:
            formats = self.stager.sqlite_formats("usage_monthly")
            instances, usage_rows = self.merger.usage_rows_sqlite(batch, self.ids, formats)
            self.changes.instances += instances
            self.changes.usage_rows += usage_rows
            return
        self.stager.write("usage_monthly", batch)
        self.changes.instances += self.merger.new_instances()
        self.changes.usage_rows += self.merger.usage()
        self.stager.clear("usage_monthly")


class _UsageWriter(threading.Thread):
    """Writes usage batches while the main thread reads and validates the next ones.

    The connection is used by this thread only until `close()` returns. Everything stays inside the
    sync's transaction.
    """

    def __init__(self, writer: _BatchWriter) -> None:
        super().__init__(name="sync-usage-writer", daemon=True)
        self.writer = writer
        self.queue: queue.Queue[list[tuple[Any, ...]] | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (batch := self.queue.get()) is not None:
            if self.error is not None:
                continue  # keep draining so the producer never blocks
            try:
                self.writer.write(batch)
            except BaseException as exc:
                self.error = exc

    def put(self, batch: list[tuple[Any, ...]]) -> None:
        self.queue.put(batch)

    def close(self) -> None:
        self.queue.put(None)
        self.join()
        if self.error is not None:
            raise self.error


def _load_usage(
    reader: TableReader,
    validator: Validator,
    stager: Stager,
    merger: Merger,
    changes: Changes,
    progress: Progress | None,
) -> None:
    """Validate every usage row; while none has a problem, load them batch by batch.

    A CSV file is validated by a forked process while this one writes (workflows/sync/validating_process.py);
    other sources by this thread while a second one writes.
    """
    bulk.hold_sync_lock(stager.conn)  # as the set-based path does, before the first usage write
    merger.layout_id = layout_id(stager.conn, extra_metric_columns(reader.columns))
    writer = _BatchWriter(stager, merger, changes)
    if progress is not None:
        progress.start(reader.label, reader.total)
    try:
        if validating_process.available(reader):
            batches = validating_process.validated_batches(
                validator, reader, PIPED_BATCH, progress.update if progress is not None else None
            )
            try:
                for batch in batches:
                    writer.write(batch)
            finally:
                batches.close()  # stops the validating process when a write failed
        else:
            _validate_beside_writer(reader, validator, writer, progress)
    finally:
        if progress is not None:
            progress.finish()


def _validate_beside_writer(
    reader: TableReader, validator: Validator, batch_writer: _BatchWriter, progress: Progress | None
) -> None:
    """Validate in this thread, write in another.

    The cyclic garbage collector is off meanwhile. The validator keeps a key per row and a summary per
    instance, millions of long-lived objects that each full collection would traverse again while the rows
    stream, holding the GIL the writer thread needs (20,000 accounts on SQLite, load alone: 63-70 s with
    it, 50-60 s without, the same peak memory). These objects hold no cycles; the sync collects once after
    the load.
    """
    collecting = gc.isenabled()
    gc.disable()
    writer = _UsageWriter(batch_writer)
    writer.start()
    try:
        for batch in batched(validator.check_usage(reader), USAGE_BATCH):
            # After the first problem nothing will be kept (the transaction rolls back): stop
            # writing, keep validating so every problem is reported.
            if not validator.problems and writer.error is None:
                writer.put(batch)
            if progress is not None and reader.position is not None:
                progress.update(reader.position())
            if writer.error is not None:
                break  # the database refused a batch; `close` raises it
    finally:
        try:
            writer.close()
        finally:
            if collecting:
                gc.enable()


def _bulk_usage(
    conn: Connection, path: Path, merger: Merger, changes: Changes, progress: Progress | None, *, first_load: bool
) -> BulkResult | None:
    """Load the usage CSV inside a savepoint: on a first load the columnar way if it takes the file
    (workflows/sync/columnar.py), otherwise the set-based way (workflows/sync/bulk.py).

    None when the set-based path stepped aside: the savepoint is rolled back, nothing of it remains,
    and the caller validates and loads row by row (which also reports every problem).
    `first_load`: the database held no account before this sync.
    """
    if not path.is_file():
        return None
    savepoint = conn.begin_nested()
    try:
        if progress is not None:
            progress.start(path.name, None)
        loaded = _columnar_first_load(conn, path, merger) if first_load else None
        if loaded is not None:
            staged, new_instances, usage_rows = loaded, loaded.instances, loaded.usage_rows
        else:
            staged = bulk.stage_usage(conn, path, STAGE_TABLES["instances"])
            merger.layout_id = layout_id(conn, staged.extra_columns)
            # The instance summaries (one row each) name every identity of the export's usage rows. Into a
            # database without instances they are the instances, written whole.
            stage = STAGE_TABLES["instances"]
            if merger.max_instance_id() == 0:
                new_instances = merger.new_instances_whole(stage)
            else:
                new_instances = merger.new_instances(stage)
            # A first load fills usage_monthly first and builds its indexes after (deferred_indexes.py). Only
            # into a database without accounts: readers that find none never wait for usage_monthly's lock
            # (db/queries/health.py).
            deferred = DeferredIndexes.set_aside_if_empty(conn, "usage_monthly") if first_load else None
            usage_rows = merger.usage_set_based(staged.scratch.typed)
            if deferred is not None:
                deferred.rebuild()
            staged.scratch.drop(conn)
    except (bulk.StepAside, SQLAlchemyError, psycopg.Error) as exc:
        merger.layout_id, merger.instances_whole = None, False  # rolled back with the savepoint
        log.info("usage rows go row by row: %s", redact(str(exc).splitlines()[0]) if str(exc) else type(exc).__name__)
        savepoint.rollback()
        return None
    finally:
        if progress is not None:
            progress.finish()
    savepoint.commit()
    changes.instances += new_instances
    changes.usage_rows += usage_rows
    return staged


def _columnar_first_load(conn: Connection, path: Path, merger: Merger) -> BulkResult | None:
    """The first load's quickest way (workflows/sync/columnar.py), inside its own savepoint; None when it steps
    aside, with nothing of it left, for the set-based path to try."""
    savepoint = conn.begin_nested()
    try:
        columns, _ = bulk.read_header(path)
        merger.layout_id = layout_id(conn, extra_metric_columns(columns))
        deferred = DeferredIndexes.set_aside_if_empty(conn, "usage_monthly")
        loaded = columnar.load_first(conn, path, USAGE_FIELDS, merger.layout_id)
        if deferred is not None:
            deferred.rebuild()
    except (bulk.StepAside, SQLAlchemyError, psycopg.Error, columnar.ArrowError) as exc:
        merger.layout_id = None
        log.info("usage rows go the set-based way: %s", redact(str(exc).splitlines()[0]) if str(exc) else exc)
        savepoint.rollback()
        return None
    savepoint.commit()
    merger.instances_whole = True  # written whole, with their summaries
    return loaded


def _discard(stager: Stager | None, touched: TouchedAccounts | None) -> None:
    """After a failed sync: the connection's staging tables and change triggers go (it returns to the pool)."""
    if stager is not None:
        with contextlib.suppress(Exception):
            stager.drop()
    if touched is not None:
        touched.discard()


def sync_export(export: Export, database_url: str, progress: Progress | None = None) -> SyncResult:
    """Validate and load one export into `database_url`. Returns the outcome; never half-loads."""
    started, t0 = utcnow(), time.perf_counter()
    engine = get_engine(database_url)
    result = SyncResult(status="running", source=export.description, run_id=None)
    with engine.connect() as conn:
        trans = conn.begin()
        stager: Stager | None = None
        touched: TouchedAccounts | None = None
        try:
            stager = Stager(conn)
            existing_accounts = set(conn.scalars(select(Account.id)))
            existing_subs = dict(conn.execute(select(Subscription.id, Subscription.account_id)).tuples().all())
            validator = Validator(existing_accounts, existing_subs)
            merger = Merger(conn)
            changes = result.changes
            max_before = merger.max_instance_id()
            # Which accounts the load writes, and what all accounts share before it: the scoring step then
            # compares only those accounts (workflows/sync/touched.py). Not on a first load.
            touched = TouchedAccounts.start(conn)
            before = ScoreBasis.read(conn) if touched is not None else None
            for name, check in (
                ("accounts", validator.check_accounts),
                ("subscriptions", validator.check_subscriptions),
            ):
                with export.table(name) as reader:
                    if isinstance(reader, str):
                        validator.problems.add(reader)
                        continue
                    for batch in batched(check(reader), BATCH):
                        # Once a problem is found nothing will be loaded: keep validating, stop staging.
                        if not validator.problems:
                            stager.write(name, batch)
                # Usage rows refer to accounts and subscriptions: those go in first (same transaction).
                if not validator.problems:
                    if name == "accounts":
                        changes.accounts = merger.accounts()
                    else:
                        changes.subscriptions = merger.subscriptions()

            fast = None
            if not validator.problems and merger.pg and isinstance(export, CsvExport):
                path = export.folder / "usage_monthly.csv"
                fast = _bulk_usage(conn, path, merger, changes, progress, first_load=not existing_accounts)
            if fast is None:
                with export.table("usage_monthly") as reader:
                    if isinstance(reader, str):
                        validator.problems.add(reader)
                    else:
                        _load_usage(reader, validator, stager, merger, changes, progress)

            log.debug("validated and loaded usage in %.1fs", time.perf_counter() - t0)
            tally, problems = validator.tally, validator.problems
            result.accounts, result.subscriptions = tally.accounts, tally.subscriptions
            if fast is not None:
                result.usage_rows, result.as_of_month = fast.usage_rows, fast.as_of_month
                result.instances = fast.instances
            else:
                result.usage_rows, result.as_of_month = tally.usage_rows, tally.as_of_month
                result.instances = len(validator.instances)
            if problems:
                trans.rollback()
                _discard(stager, touched)
                result.status = "rejected"
                result.problem_count, result.problems = problems.count, problems.lines
                msg = "\n".join(problems.lines[:20])
                result.run_id = _record_rejected(database_url, result, started, "rejected", msg)
                return result

            t1 = time.perf_counter()
            if fast is None:  # the fast path staged its instance summaries itself
                for batch in batched(validator.instance_rows(), BATCH):
                    stager.write("instances", batch)
            changes.instances += merger.finish_instances(max_before, touched.extra if touched is not None else None)
            log.debug("instances finished in %.1fs: %s", time.perf_counter() - t1, changes)
            ch = result.changes
            run = SyncRun(
                source=result.source,
                started_at=started,
                finished_at=utcnow(),
                status="succeeded",
                accounts=result.accounts,
                subscriptions=result.subscriptions,
                usage_rows=result.usage_rows,
                instances=result.instances,
                rows_changed=ch.total,
                as_of_month=result.as_of_month,
                metric_columns=fast.metric_columns if fast is not None else validator.tally.metric_columns,
                problems=0,
                message=(
                    f"changed: {ch.accounts} accounts, {ch.subscriptions} subscriptions, "
                    f"{ch.instances} instances, {ch.usage_rows} usage rows"
                ),
            )
            row = conn.execute(
                insert(SyncRun).returning(SyncRun.id),
                [{c.name: getattr(run, c.key) for c in SyncRun.__table__.columns if c.name != "id"}],
            )
            result.run_id = int(row.scalar_one())
            result.load_seconds = time.perf_counter() - t0
            # The staging tables and the load's big SQLite page cache go before the scoring step: its forked
            # workers add to what this process holds.
            stager.drop()
            validator.release()
            gc.collect()
            if merger.pg and ch.total:
                # Planner statistics of what the load changed, before anyone queries it: without them (a
                # server whose autovacuum is off or has not come round yet) PostgreSQL picks plans for empty
                # tables, e.g. a month-wide index for one account's rows. Transactional, a few seconds.
                conn.exec_driver_sql("ANALYZE accounts, subscriptions, instances, usage_monthly")
            # A separate step after the load, same transaction: readers never see new data with old scores.
            written = touched.stop() if touched is not None else None
            result.scoring = after_sync(conn, changed=ch.total > 0, touched=written, before=before)
            trans.commit()
            result.status = "succeeded"
            return result
        except SQLAlchemyError as exc:
            if trans.is_active:
                trans.rollback()
            _discard(stager, touched)
            reason = redact(f"{exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}")
            # If the database itself is the problem the run can't be recorded; the caller still gets the reason.
            with contextlib.suppress(SQLAlchemyError):
                _record_rejected(database_url, result, started, "failed", reason[:2000])
            raise SyncFailed(f"the database refused the load, nothing was changed ({reason})") from exc
        except SourceError as exc:
            if trans.is_active:
                trans.rollback()
            _discard(stager, touched)
            with contextlib.suppress(SQLAlchemyError):
                _record_rejected(database_url, result, started, "failed", str(exc)[:2000])
            raise
        except Exception as exc:
            # Anything else (a driver error outside SQLAlchemy's wrapping, a bug): still one failed run on
            # record and a clear message, never a half-load.
            if trans.is_active:
                trans.rollback()
            _discard(stager, touched)
            log.exception("sync of %s failed", result.source)
            reason = redact(f"{exc.__class__.__name__}: {exc}".splitlines()[0])
            with contextlib.suppress(SQLAlchemyError):
                _record_rejected(database_url, result, started, "failed", reason[:2000])
            raise SyncFailed(f"the sync failed, nothing was changed ({reason})") from exc
        except BaseException:
            # Interrupted (Ctrl-C, a stop signal): the transaction is rolled back; the run is recorded if it can be.
            if trans.is_active:
                trans.rollback()
            with contextlib.suppress(Exception):
                _record_rejected(database_url, result, started, "failed", "interrupted; nothing was changed")
            raise
