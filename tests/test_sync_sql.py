"""`sync --from-sql`: the same export as tables in a SQLite file and in a DuckDB file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from support.sync_helpers import FIXTURE, dump

from workflows.sync import CsvExport, SourceError, SqlExport, sync_export

TABLES = ("accounts", "subscriptions", "usage_monthly")


def _sqlite_copy_of_fixture(path: Path, edit: dict[str, list[list[str]]] | None = None) -> str:
    """The fixture's CSVs as text tables of a SQLite file (empty strings as NULL, like a warehouse)."""
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in TABLES:
            with (FIXTURE / f"{table}.csv").open(newline="") as f:
                header, *rows = list(csv.reader(f))
            rows += (edit or {}).get(table, [])
            cols = ", ".join(f'"{h}" TEXT' for h in header)
            conn.execute(text(f'CREATE TABLE "{table}" ({cols})'))
            marks = ", ".join(f":c{i}" for i in range(len(header)))
            conn.execute(
                text(f'INSERT INTO "{table}" VALUES ({marks})'),
                [{f"c{i}": (v if v != "" else None) for i, v in enumerate(r)} for r in rows],
            )
    engine.dispose()
    return url


def test_from_sqlite_file_loads_the_same_rows_as_the_csv_folder(db_url: str, tmp_path: Path) -> None:
    assert sync_export(CsvExport(FIXTURE), db_url).ok
    from_csv = dump(db_url)
    from conftest import truncate_all

    truncate_all(db_url)
    source = SqlExport(_sqlite_copy_of_fixture(tmp_path / "export.sqlite"))
    result = sync_export(source, db_url)
    source.close()
    assert result.ok, result.problems
    assert (result.accounts, result.subscriptions, result.instances, result.usage_rows) == (3, 4, 5, 10)
    assert dump(db_url) == from_csv


def test_from_duckdb_file_with_native_types(db_url: str, tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    path = tmp_path / "export.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA mart")
        for table in TABLES:
            # read_csv_auto types the columns (DATE, TIMESTAMP, BIGINT, DOUBLE, BOOLEAN): the sync
            # must take native values as well as text.
            con.execute(f"CREATE TABLE mart.{table} AS SELECT * FROM read_csv_auto('{FIXTURE / table}.csv')")
        kinds = dict(
            con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'usage_monthly'"
            ).fetchall()
        )
    finally:
        con.close()
    assert kinds["snapshot_month"] == "DATE"
    assert kinds["billable_user_count"] in ("BIGINT", "INTEGER")

    assert sync_export(CsvExport(FIXTURE), db_url).ok
    from_csv = dump(db_url)
    source = SqlExport(f"duckdb:///{path}", schema="mart")
    result = sync_export(source, db_url)
    source.close()
    assert result.ok, result.problems
    assert result.rows_changed == 0  # the same data, typed differently, is the same data
    assert dump(db_url) == from_csv


def test_rejected_sql_source_names_table_and_key(db_url: str, tmp_path: Path) -> None:
    usage_bad = [
        "0016100001AcmeA", "2026-10-15", "sub-acme-sm", "", "Self-Managed", "Self-Managed", "inst-acme-prod",
        *[""] * 26,
    ]  # fmt: skip
    url = _sqlite_copy_of_fixture(
        tmp_path / "bad.sqlite",
        {
            "accounts": [["Acme Again", "0016100001AcmeA", "", "", "", "", ""]],
            "usage_monthly": [usage_bad],
        },
    )
    source = SqlExport(url)
    result = sync_export(source, db_url)
    source.close()
    assert result.status == "rejected"
    assert result.problems == [
        "accounts[0016100001AcmeA]: dim_crm_account_id: duplicate account '0016100001AcmeA'",
        "usage_monthly[2026-10-15, sm:inst-acme-prod, sub-acme-sm]: snapshot_month:"
        " 2026-10-15 is not the first day of a month",
    ]
    assert dump(db_url)["usage_monthly"] == []


def test_missing_table_and_unreachable_source(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'partial.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE ACCOUNTS (dim_crm_account_id TEXT, crm_account_name TEXT)"))
        conn.execute(text("INSERT INTO ACCOUNTS VALUES ('A1', 'Acme')"))
    engine.dispose()
    source = SqlExport(f"sqlite:///{tmp_path / 'partial.sqlite'}")
    result = sync_export(source, db_url)
    source.close()
    assert result.status == "rejected"
    assert result.problems[0].startswith("subscriptions: table not found in sqlite:///")
    with pytest.raises(SourceError):
        SqlExport("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
