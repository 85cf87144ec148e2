"""The set-based PostgreSQL load of usage CSVs (workflows/sync/bulk.py) against the row-by-row path.

Both paths must leave exactly the same rows, and anything the fast path does not take (unusual
spellings, stray quotes, problems) must end in the row-by-row path's answer: loaded the same, or
rejected with every problem at its line.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import truncate_all
from sqlalchemy import select
from support.sync_helpers import FIXTURE, copy_fixture, dump, edit_usage

from db.models import SyncRun
from db.session import session_scope
from workflows.demo import generate_export
from workflows.sync import CsvExport, bulk, columnar, sync_export
from workflows.sync.bulk import QuoteCheck

# The fast path is PostgreSQL's (COPY); on SQLite every sync goes row by row.
pg_only = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"), reason="the COPY path is PostgreSQL's"
)


def _refuse(*_args: object, **_kwargs: object) -> bulk.BulkResult:
    raise bulk.StepAside("another path for this comparison")


def _metric_columns(db_url: str) -> object:
    with session_scope(db_url) as s:
        return s.scalars(select(SyncRun.metric_columns).order_by(SyncRun.id)).first()


class Taken:
    """Which quick path loaded the usage rows of one sync: the columnar first load, the set-based one, or none."""

    def __init__(self, m: pytest.MonkeyPatch, columnar_on: bool = True, set_based_on: bool = True) -> None:
        self.columnar = self.set_based = False
        real_columnar, real_set_based = columnar.load_first, bulk.stage_usage

        def columnar_spy(*args: Any, **kwargs: Any) -> bulk.BulkResult:
            result = real_columnar(*args, **kwargs)
            self.columnar = True
            return result

        def set_based_spy(*args: Any, **kwargs: Any) -> bulk.BulkResult:
            result = real_set_based(*args, **kwargs)
            self.set_based = True
            return result

        m.setattr(columnar, "load_first", columnar_spy if columnar_on else _refuse)
        m.setattr(bulk, "stage_usage", set_based_spy if set_based_on else _refuse)


def _every_way(db_url: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Taken, dict[str, object]]:
    """Sync `folder` into an empty database by each path in turn: the quickest that takes it (columnar, then
    set-based), the set-based or row-by-row one, and row by row. The same outcome and rows every time; each
    re-load changes nothing. Which quick path the first took, and its dump."""
    outcomes = []
    for columnar_on, set_based_on in ((True, True), (False, True), (False, False)):
        truncate_all(db_url)
        with monkeypatch.context() as m:
            taken = Taken(m, columnar_on, set_based_on)
            result = sync_export(CsvExport(folder), db_url)
            rows = dump(db_url)
            columns = _metric_columns(db_url)
            if result.ok:
                again = sync_export(CsvExport(folder), db_url)
                assert again.ok and again.rows_changed == 0, "a re-load changes nothing"
        summary = (result.status, result.usage_rows, result.instances, result.as_of_month, result.changes)
        outcomes.append((taken, summary, rows, columns, result.problems))
    first = outcomes[0]
    for other in outcomes[1:]:
        assert other[1:] == first[1:]
    assert not outcomes[1][0].columnar and not outcomes[2][0].columnar and not outcomes[2][0].set_based
    return first[0], first[2]


@pg_only
def test_generated_export_loads_the_same_every_way(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate_export(tmp_path / "e", accounts=25, months=6, seed=11, today=date(2026, 11, 27))
    taken, rows = _every_way(db_url, tmp_path / "e", monkeypatch)
    assert taken.columnar, "a plain generated export takes the quickest path"
    assert rows["usage_monthly"] and rows["instances"]


@pg_only
def test_fixture_loads_the_same_every_way(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    taken, _ = _every_way(db_url, FIXTURE, monkeypatch)
    assert taken.set_based, "a zoned timestamp (…T03:00:00Z) is the set-based path's, not the columnar one's"


@pg_only
@pytest.mark.parametrize(
    "edit",
    [
        {(0, "license_user_count"): "12.0"},  # a float-printed integer
        {(0, "last_activity_28_days_user"): " 7 "},  # a padded number
        {(1, "ci_builds_28_days_event"): "12.5"},  # a decimal metric
        {(0, "hostname"): "  gitlab.acme.test  "},  # padded text, trimmed
        {(0, "ping_created_at"): "2026-10-28T04:12:00+02:00"},  # a zone
        {(0, "snapshot_month"): "2026-08-01 00:00:00"},  # a midnight timestamp as a date
        {(0, "namespace_name"): 'Acme, "the" group\nsecond line'},  # quoting, a comma and a line break
        {(0, "instance_type"): "PRODUCTION"},  # any capitalization
        # An extra column that is not a metric: a quoted comma in an otherwise plain row is not two values,
        # and a padded number is still a number.
        {(0, "edition"): "1,5"},
        {(0, "edition"): "", (1, "edition"): " 5", (2, "edition"): "5 "},
    ],
)
def test_unusual_but_valid_values_load_the_same_every_way(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: dict[tuple[int, str], str]
) -> None:
    folder = copy_fixture(tmp_path / "e")
    edit_usage(folder, edit)
    _every_way(db_url, folder, monkeypatch)


def test_quote_check_notices_a_comma_inside_a_quoted_field_across_chunks() -> None:
    def quoted_comma(*chunks: bytes) -> bool:
        check = QuoteCheck()
        assert all(check.feed(c) for c in chunks) and check.done()
        return check.quoted_comma

    assert quoted_comma(b'a,"x,y"\n')
    assert quoted_comma(b'a,"x', b',y"\n')  # the field goes on in the next chunk
    assert not quoted_comma(b'a,"xy",b\n', b"c,d\n")
    assert not quoted_comma(b'a,"x"', b",y\n")  # the comma after the closing quote separates fields


@pg_only
def test_a_quoted_comma_in_a_metric_of_a_plain_row_is_an_error(db_url: str, tmp_path: Path) -> None:
    """`"1,234"` among plain numbers: reported as a bad number (the contract's answer), never split into two."""
    folder = copy_fixture(tmp_path / "e")
    edit_usage(folder, {(0, "edition"): "", (0, "issues_created_28_days_user"): "1,234"})
    result = sync_export(CsvExport(folder), db_url)
    assert not result.ok
    assert result.problems == ["usage_monthly.csv:2: issues_created_28_days_user: bad number '1,234'"]


@pg_only
def test_problems_are_reported_by_line_whichever_path_found_them(db_url: str, tmp_path: Path) -> None:
    folder = copy_fixture(tmp_path / "e")
    edit_usage(
        folder,
        {
            (0, "snapshot_month"): "2026-10-15",
            (1, "billable_user_count"): "-3",
            (2, "ping_created_at"): "yesterday",
            (3, "dim_subscription_id_original"): "NOPE",
        },
    )
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    assert "usage_monthly.csv:2: snapshot_month: 2026-10-15 is not the first day of a month" in result.problems
    assert "usage_monthly.csv:3: billable_user_count: negative count -3" in result.problems
    assert any(p.startswith("usage_monthly.csv:4: ping_created_at: bad timestamp 'yesterday'") for p in result.problems)
    assert "usage_monthly.csv:5: dim_subscription_id_original: unknown subscription 'NOPE'" in result.problems
    assert dump(db_url)["usage_monthly"] == []


@pg_only
def test_a_stray_quote_is_read_the_python_way(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`a"b` is not RFC 4180; PostgreSQL and Python would read it differently, so the fast path steps aside."""
    folder = copy_fixture(tmp_path / "e")
    path = folder / "usage_monthly.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    cells = lines[1].split(",")
    cells[header.index("cleaned_version")] = '17"3'
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    taken, rows = _every_way(db_url, folder, monkeypatch)
    assert not taken.columnar and not taken.set_based
    assert rows["usage_monthly"]


@pytest.mark.parametrize(
    ("chunks", "ok"),
    [
        ([b'a,b\n1,"x,y"\n'], True),
        ([b'a,b\n1,"x', b'""y"\n'], True),  # an escaped quote split across chunks
        ([b'a,b\n1,"x"', b"\n2,3\n"], True),  # a closing quote at the end of a chunk
        ([b'a,b\n1,"x"', b"y\n"], False),  # ... followed by more text
        ([b'a,b\n1,x"y\n'], False),  # a quote inside an unquoted field
        ([b'a,b\n1,x",y\n'], False),
        ([b'a,b\n"1\n2",3\n'], True),  # a quoted line break
        ([b"a,b\n\\.\n1,2\n"], False),  # PostgreSQL's end-of-data marker
        ([b'a,b\n1,"open\n'], False),  # never closed
    ],
)
def test_quote_check(chunks: list[bytes], ok: bool) -> None:
    check = QuoteCheck()
    result = all(check.feed(c) for c in chunks) and check.done()
    assert result is ok
