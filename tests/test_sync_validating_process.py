"""A CSV file's usage rows are validated by a forked process while the sync writes them: it must report and
load exactly what validating in the sync's own process does, and stop cleanly whatever goes wrong."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from support.sync_helpers import FIXTURE, copy_fixture, dump
from test_sync_reject import EXPECTED, _write_bad_export

from db.models import SyncRun
from db.session import get_engine, session_scope
from workflows.sync import CsvExport, SourceError, SyncFailed, run, sync_export, validating_process
from workflows.sync.validate import Validator


@pytest.fixture
def row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Usage rows go the row-by-row way on PostgreSQL too (as when its set-based path steps aside), a few a batch."""
    monkeypatch.setattr(run, "_bulk_usage", lambda *args, **kwargs: None)
    monkeypatch.setattr(run, "USAGE_BATCH", 2)


def _in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(validating_process, "available", lambda reader: False)


def test_the_forked_validator_is_used_for_csv_files(
    db_url: str, row_by_row: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    forks: list[int] = []
    real = validating_process.validated_batches

    def counting(*args: Any, **kwargs: Any) -> Iterator[Any]:
        forks.append(1)
        yield from real(*args, **kwargs)

    monkeypatch.setattr(validating_process, "validated_batches", counting)
    assert sync_export(CsvExport(FIXTURE), db_url).ok
    assert forks == [1]


def test_both_ways_load_the_same_rows(
    db_url: str, tmp_path: Path, row_by_row: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked = sync_export(CsvExport(FIXTURE), db_url)
    assert forked.ok and forked.usage_rows == 10 and forked.changes.usage_rows == 10
    loaded = dump(db_url)

    # The same file with one value changed: both ways write exactly that change.
    changed = copy_fixture(tmp_path / "changed")
    usage = changed / "usage_monthly.csv"
    lines = usage.read_text().splitlines(keepends=True)
    fields = lines[1].split(",")
    at = lines[0].split(",").index("billable_user_count")
    fields[at] = str(int(fields[at] or 0) + 7)
    lines[1] = ",".join(fields)
    usage.write_text("".join(lines))
    forking = validating_process.available
    _in_this_process(monkeypatch)
    here = sync_export(CsvExport(changed), db_url)
    assert here.ok and here.changes.usage_rows == 1
    monkeypatch.setattr(validating_process, "available", forking)
    assert sync_export(CsvExport(FIXTURE), db_url).changes.usage_rows == 1  # forked again, back to the first file
    assert dump(db_url) == loaded


@pytest.mark.parametrize("forked", [True, False], ids=["forked", "in-process"])
def test_both_ways_report_every_problem_in_file_order(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forked: bool
) -> None:
    monkeypatch.setattr(run, "USAGE_BATCH", 3)
    if not forked:
        _in_this_process(monkeypatch)
    result = sync_export(CsvExport(_write_bad_export(tmp_path / "bad")), db_url)
    assert result.status == "rejected"
    assert result.problems == EXPECTED


def _refuse_usage_rows(url: str) -> str:
    """A trigger making the database refuse every usage row; returns the SQL that removes it."""
    with get_engine(url).begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(
                text(
                    "CREATE OR REPLACE FUNCTION test_refuse_usage() RETURNS trigger LANGUAGE plpgsql AS"
                    " $$ BEGIN RAISE EXCEPTION 'usage rows refused by the test'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER test_refuse_usage BEFORE INSERT ON usage_monthly"
                    " FOR EACH ROW EXECUTE FUNCTION test_refuse_usage()"
                )
            )
            return "DROP TRIGGER test_refuse_usage ON usage_monthly; DROP FUNCTION test_refuse_usage()"
        conn.execute(
            text(
                "CREATE TRIGGER test_refuse_usage BEFORE INSERT ON usage_monthly"
                " BEGIN SELECT RAISE(ABORT, 'usage rows refused by the test'); END"
            )
        )
        return "DROP TRIGGER test_refuse_usage"


def test_a_refused_write_stops_the_validating_process_and_changes_nothing(db_url: str, row_by_row: None) -> None:
    before = dump(db_url)
    undo = _refuse_usage_rows(db_url)
    try:
        with pytest.raises(SyncFailed, match=r"nothing was changed.*usage rows refused by the test"):
            sync_export(CsvExport(FIXTURE), db_url)
    finally:
        with get_engine(db_url).begin() as conn:
            for statement in undo.split(";"):
                conn.execute(text(statement))
    assert multiprocessing.active_children() == []
    assert dump(db_url) == before
    assert sync_export(CsvExport(FIXTURE), db_url).ok  # nothing left behind that stops the next sync


def test_a_validating_process_that_dies_is_a_clear_failure(
    db_url: str, row_by_row: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = Validator.check_usage

    def dies_halfway(self: Validator, reader: Any) -> Iterator[tuple[Any, ...]]:
        for n, row in enumerate(real(self, reader)):
            if n == 5:
                os._exit(3)  # as if the kernel's out-of-memory killer took it
            yield row

    monkeypatch.setattr(Validator, "check_usage", dies_halfway)
    before = dump(db_url)
    with pytest.raises(SourceError, match=r"usage_monthly.csv could not be read to the end: .* \(exit code 3\)"):
        sync_export(CsvExport(FIXTURE), db_url)
    assert multiprocessing.active_children() == []
    assert dump(db_url) == before
    with session_scope(db_url) as s:
        run_row = s.scalars(select(SyncRun).order_by(SyncRun.id.desc())).first()
        assert run_row is not None and run_row.status == "failed"
        assert run_row.message and "could not be read to the end" in run_row.message


def test_an_error_in_the_validating_process_reaches_the_sync(
    db_url: str, row_by_row: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Validator, reader: Any) -> Iterator[tuple[Any, ...]]:
        raise ValueError("a bug in the validator")
        yield ()

    monkeypatch.setattr(Validator, "check_usage", broken)
    with pytest.raises(SyncFailed, match="ValueError: a bug in the validator"):
        sync_export(CsvExport(FIXTURE), db_url)
    assert multiprocessing.active_children() == []


def test_an_error_that_cannot_cross_the_pipe_is_still_named(
    db_url: str, row_by_row: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unpicklable(Exception):
        """Defined in a function, and holding a lock: pickle takes neither."""

        def __init__(self) -> None:
            super().__init__("the reader lost its file")
            self.lock = threading.Lock()

    def broken(self: Validator, reader: Any) -> Iterator[tuple[Any, ...]]:
        raise Unpicklable()
        yield ()

    monkeypatch.setattr(Validator, "check_usage", broken)
    with pytest.raises(SyncFailed, match="Unpicklable: the reader lost its file"):
        sync_export(CsvExport(FIXTURE), db_url)
    assert multiprocessing.active_children() == []
