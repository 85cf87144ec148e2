"""The columnar first load (workflows/sync/columnar.py) and its binary COPY encoder (workflows/sync/pg_binary.py).

Whatever an export holds, the columnar path either loads exactly the rows the set-based and row-by-row paths
load, or steps aside and leaves the file to them: checked on the fixture with values of every kind, plain and
unusual, valid and not, drawn at random.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import make_url
from support.sync_helpers import copy_fixture, edit_usage, read_csv, write_csv
from test_sync_bulk import Taken, _every_way

from workflows.sync import CsvExport, pg_binary, sync_export
from workflows.sync.columnar import well_quoted
from workflows.sync.contract import KINDS, SCORED_COLS, USAGE_COLS

pg_only = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"), reason="the COPY paths are PostgreSQL's"
)

# Spellings of each kind of value: the plain ones the columnar path takes, and others it must leave to the
# other paths (accepted there or reported as problems).
SPELLINGS: dict[str, list[str]] = {
    "date": ["2026-10-01", "2024-02-29", "2026-02-29", "2026-06-31", "2026-10-01 00:00:00", " 2026-10-01", "0999-01-01",
             "10/01/2026", ""],
    "timestamp": ["2026-10-28 04:12:00", "2024-02-29 23:59:59", "2026-10-28T04:12:00Z", "2026-06-31 01:00:00",
                  "2026-10-28 24:00:00", "2026-10-28 04:12:00.5", "2026-10-28", ""],
    "count": ["5", "0", "0007", "999999999", "1234567890", "2147483648", "12.0", "12.5", "-3", "-0", " 5", "+5",
              "5e2", "0x10", "1_000", ""],
    "metric": ["5", "0", "5.25", "007.50", "0.1", "9007199254740993", "123456.789012345678",
               "1e3", "+5", "-0", "inf", "nan", "nan(123)", "-1", "1" * 400, " 5", "\xa05", "0x10", "1_000", ""],
    "text": ["x", "gitlab.acme.test", "  padded  ", "\u3000x", "é" * 300, "a,b", 'say "hi"', "line\nbreak", ""],
    "choice": ["SaaS", "saas", "Self-Managed", "self-managed", "GitLab.com", "Production", "bogus", " SaaS", ""],
    "bool": ["true", "false", "Y", "no", "1", "on", "maybe", ""],
    "extra": ["5", "0", "05", "5.5", " 5", "x", "1,5", "null", "1e3", "abc7", "12345678901234567890", ""],
}  # fmt: skip
# What the columnar path takes (the rest of each list it leaves to the other paths).
PLAIN: dict[str, set[str]] = {
    "date": {"2026-10-01", "2024-02-29", ""},
    "timestamp": {"2026-10-28 04:12:00", "2024-02-29 23:59:59", ""},
    "count": {"5", "0", "0007", "999999999", ""},
    "metric": {"5", "0", "5.25", "007.50", "0.1", "9007199254740993", "123456.789012345678", ""},
    "text": {"x", "gitlab.acme.test", "  padded  ", "\u3000x", "a,b", 'say "hi"', "line\nbreak", ""},
    "choice": {"SaaS", "saas", "Self-Managed", "self-managed", "GitLab.com", "Production", ""},
    "bool": {"true", "false", "Y", "no", "1", ""},
    "extra": {"5", "0", "12345678901234567890", "x", "abc7", "1,5", ""},
}
_CONTRACT = {c.name: KINDS[c.conv][0] for c in USAGE_COLS + SCORED_COLS}


def _kind(column: str) -> str:
    return _CONTRACT.get(column, "extra")


@st.composite
def edits(draw: st.DrawFn, header: list[str], rows: int) -> dict[tuple[int, str], str]:
    columns = [c for c in header if c != "dim_crm_account_id"]
    chosen = draw(st.lists(st.tuples(st.integers(0, rows - 1), st.sampled_from(columns)), max_size=4, unique=True))
    return {(row, col): draw(st.sampled_from(SPELLINGS[_kind(col)])) for row, col in chosen}


_FIXTURE_TABLE = read_csv(Path(__file__).parent / "fixtures" / "export_small" / "usage_monthly.csv")


def plain_fixture(dest: Path) -> Path:
    """The fixture with its one zoned timestamp (`…T03:00:00Z`, which the set-based path takes) in the plain
    spelling the columnar path takes: the same instant."""
    folder = copy_fixture(dest)
    table = read_csv(folder / "usage_monthly.csv")
    at = table[0].index("ping_created_at")
    for row in table[1:]:
        if row[at].endswith("Z"):
            row[at] = row[at][:-1].replace("T", " ")
    write_csv(folder / "usage_monthly.csv", table)
    return folder


@pg_only
# Each example is six syncs: no shrinking (the failing example is printed as it was drawn).
@settings(
    max_examples=20,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(edit=edits(_FIXTURE_TABLE[0], len(_FIXTURE_TABLE) - 1))
@example(edit={})
@example(edit={(0, "last_activity_28_days_user"): "1e3"})  # a metric taken by float() only: row by row
@example(edit={(0, "edition"): "1,5", (1, "issues_created_28_days_user"): "05"})
# Leaves an instance whose rows never ping: no version or users from any path (the row-by-row one once took the
# first row's).
@example(edit={(8, "dim_namespace_id"): "line\nbreak", (2, "namespace_name"): "gitlab.acme.test"})
def test_any_values_load_the_same_by_every_path(
    db_url: str, monkeypatch: pytest.MonkeyPatch, edit: dict[tuple[int, str], str]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = plain_fixture(Path(tmp) / "e")
        edit_usage(folder, edit)
        taken, rows = _every_way(db_url, folder, monkeypatch)
    plain = all(value in PLAIN[_kind(column)] for (_, column), value in edit.items())
    if plain and rows["usage_monthly"]:
        assert taken.columnar, f"plain values are the columnar path's: {edit}"


@pg_only
def test_a_first_load_takes_the_columnar_path_and_a_second_goes_set_based(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = plain_fixture(tmp_path / "e")
    with monkeypatch.context() as m:
        first = Taken(m)
        assert sync_export(CsvExport(folder), db_url).ok
    assert first.columnar and not first.set_based
    edit_usage(folder, {(0, "ci_builds_28_days_event"): "41"})
    with monkeypatch.context() as m:
        second = Taken(m)
        result = sync_export(CsvExport(folder), db_url)
    assert result.ok and result.changes.usage_rows == 1
    assert second.set_based and not second.columnar, "rows are stored: the columnar path only fills empty tables"


def test_quoting_outside_rfc_4180_is_noticed(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_bytes(b'a,b\n1,"x,""y"""\n2,"line\nbreak"\n')
    bad.write_bytes(b'a,b\n1,17"3\n')
    assert well_quoted(good)
    assert not well_quoted(bad)


def _dsn() -> str:
    url = os.environ.get("TEST_DATABASE_URL", "")
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pg_only
@pytest.mark.parametrize("offset", [0, 1, 3])
def test_binary_copy_encoding_reads_back_as_written(database_url: str, offset: int) -> None:
    """Every type the loads write, NULLs among them, from arrays that start inside their buffers (slices)."""
    values = {
        "i": ("int", pa.array([1, None, -7, 2**31 - 1, 0], pa.int32())),
        "f": ("float8", pa.array([1.5, 0.1, None, 1e300, -0.0])),
        "t": ("text", pa.array(["a", None, "é€𝄞", "", 'q"u,o\nte'])),
        "b": ("boolean", pa.array([True, None, False, True, None])),
        "d": ("date", pa.array([date(2024, 2, 29), None, date(1999, 12, 31), date(1, 1, 1), date(2000, 1, 1)])),
        "ts": (
            "timestamptz",
            pa.array(
                [
                    datetime(2025, 11, 20, 3, 3, tzinfo=UTC),
                    None,
                    datetime(1970, 1, 1, tzinfo=UTC),
                    datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
                    datetime(2000, 1, 1, tzinfo=UTC),
                ],
                pa.timestamp("us", tz="UTC"),
            ),
        ),
        "j": ("json", pa.array(["[1,null]", None, "[]", '{"a":1}', "[2.5]"])),
    }
    # Fixed-width columns between text ones and side by side: both ways of packing a row.
    order = ["i", "t", "f", "b", "d", "ts", "j"]
    arrays = [values[k][1].slice(offset) for k in order]
    data = pg_binary.HEADER + bytes(pg_binary.encode(arrays)) + pg_binary.TRAILER
    with psycopg.connect(_dsn(), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS binary_copy_check")
        conn.execute(f"CREATE TEMPORARY TABLE binary_copy_check ({', '.join(f'{k} {values[k][0]}' for k in order)})")
        with (
            conn.cursor() as cur,
            cur.copy(f"COPY binary_copy_check ({', '.join(order)}) FROM STDIN (FORMAT binary)") as cp,
        ):
            cp.write(data)
        stored = conn.execute(f"SELECT {', '.join(order)} FROM binary_copy_check").fetchall()
    expected = list(zip(*(values[k][1].slice(offset).to_pylist() for k in order), strict=True))
    json_at = order.index("j")
    expected = [
        tuple(json.loads(v) if i == json_at and v is not None else v for i, v in enumerate(row)) for row in expected
    ]
    assert [tuple(r) for r in stored] == expected
