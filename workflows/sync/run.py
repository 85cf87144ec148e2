"""A sync: validate every row while staging it, then merge in the same transaction, then record the run.

The real tables are touched only after the whole export has been read without a problem; a
rejected export rolls back its staging and leaves a `SyncRun` with status `rejected` behind.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import islice
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from db.models.base import utcnow
from db.models.usage import Account, Subscription, SyncRun
from db.session import get_engine, session_scope
from workflows.sync.merge import Changes, Merger
from workflows.sync.sources import Export, SourceError, TableReader
from workflows.sync.stage import Stager
from workflows.sync.validate import Validator

BATCH = 10_000
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

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    @property
    def rows_changed(self) -> int:
        return self.changes.total


def _batched(rows: Iterator[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    while chunk := list(islice(rows, size)):
        yield chunk


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


def sync_export(export: Export, database_url: str, progress: Progress | None = None) -> SyncResult:
    """Validate and load one export into `database_url`. Returns the outcome; never half-loads."""
    started, t0 = utcnow(), time.perf_counter()
    engine = get_engine(database_url)
    result = SyncResult(status="running", source=export.description, run_id=None)
    with engine.connect() as conn:
        trans = conn.begin()
        stager: Stager | None = None
        try:
            stager = Stager(conn)
            existing_accounts = set(conn.scalars(select(Account.id)))
            existing_subs = dict(conn.execute(select(Subscription.id, Subscription.account_id)).tuples().all())
            validator = Validator(existing_accounts, existing_subs)
            checks: dict[str, Callable[[TableReader], Iterator[tuple[Any, ...]]]] = {
                "accounts": validator.check_accounts,
                "subscriptions": validator.check_subscriptions,
                "usage_monthly": validator.check_usage,
            }
            for name, check in checks.items():
                with export.table(name) as reader:
                    if isinstance(reader, str):
                        validator.problems.add(reader)
                        continue
                    if progress is not None:
                        progress.start(reader.label, reader.total)
                    for batch in _batched(check(reader), BATCH):
                        # Once a problem is found nothing will be loaded: keep validating, stop staging.
                        if not validator.problems:
                            stager.write(name, batch)
                        if progress is not None and reader.position is not None:
                            progress.update(reader.position())
                    if progress is not None:
                        progress.finish()

            log.debug("validated and staged in %.1fs", time.perf_counter() - t0)
            tally, problems = validator.tally, validator.problems
            result.accounts, result.subscriptions = tally.accounts, tally.subscriptions
            result.usage_rows, result.as_of_month = tally.usage_rows, tally.as_of_month
            if problems:
                trans.rollback()
                stager.drop()
                result.status = "rejected"
                result.problem_count, result.problems = problems.count, problems.lines
                msg = "\n".join(problems.lines[:20])
                result.run_id = _record_rejected(database_url, result, started, "rejected", msg)
                return result

            t1 = time.perf_counter()
            result.changes = Merger(conn).merge()
            log.debug("merged in %.1fs: %s", time.perf_counter() - t1, result.changes)
            result.instances = int(
                conn.exec_driver_sql("SELECT COUNT(DISTINCT identity) FROM sync_stage_usage").scalar_one()
            )
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
                problems=0,
                message=(
                    f"changed: {ch.accounts} accounts, {ch.subscriptions} subscriptions, "
                    f"{ch.instances} instances, {ch.usage_rows} usage rows"
                ),
            )
            row = conn.execute(
                SyncRun.__table__.insert().returning(SyncRun.__table__.c.id),
                [{c.name: getattr(run, c.key) for c in SyncRun.__table__.columns if c.name != "id"}],
            )
            result.run_id = int(row.scalar_one())
            stager.drop()
            trans.commit()
            result.status = "succeeded"
            return result
        except SQLAlchemyError as exc:
            if trans.is_active:
                trans.rollback()
            if stager is not None:
                with contextlib.suppress(SQLAlchemyError):
                    stager.drop()
            reason = f"{exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"
            # If the database itself is the problem the run can't be recorded; the caller still gets the reason.
            with contextlib.suppress(SQLAlchemyError):
                _record_rejected(database_url, result, started, "failed", reason[:2000])
            raise SyncFailed(f"the database refused the load, nothing was changed ({reason})") from exc
        except SourceError as exc:
            if trans.is_active:
                trans.rollback()
            if stager is not None:
                with contextlib.suppress(SQLAlchemyError):
                    stager.drop()
            with contextlib.suppress(SQLAlchemyError):
                _record_rejected(database_url, result, started, "failed", str(exc)[:2000])
            raise
        except BaseException:
            if trans.is_active:
                trans.rollback()
            raise
