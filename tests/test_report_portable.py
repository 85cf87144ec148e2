"""`usagebot report --json` is the same on SQLite and PostgreSQL: same export, both databases, one JSON.

Runs under either suite: it makes a fresh SQLite file and a fresh PostgreSQL database (the server of
TEST_DATABASE_URL, else the local one CI starts) and skips only when no PostgreSQL server answers.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from db.models import Account
from db.session import session_scope
from workflows.demo import generate_export
from workflows.report import build_account_report, report_to_json
from workflows.report_text import format_report
from workflows.sync import CsvExport, sync_export

LOCAL_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _pg_base() -> str | None:
    base = os.environ.get("TEST_DATABASE_URL", "").strip()
    base = base if base.startswith("postgresql") else os.environ.get("CI_PG_URL", LOCAL_PG)
    try:
        engine = create_engine(make_url(base), connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return None
    return base


def _reports(url: str) -> dict[str, tuple[dict[str, object], str]]:
    out = {}
    with session_scope(url) as s:
        for account_id in s.scalars(select(Account.id).order_by(Account.id)):
            report = build_account_report(s, account_id, rules="gitlab-current")
            out[account_id] = (report_to_json(report), format_report(report))
    return out


def test_report_json_is_identical_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    from conftest import _create_pg_database, _drop_pg_database

    base = _pg_base()
    if base is None:
        pytest.skip("no PostgreSQL server answers (CI starts one)")
    export = tmp_path / "export"
    generate_export(export, accounts=12, months=13, seed=11, today=date(2026, 11, 27))
    sqlite_url = f"sqlite:///{tmp_path / 'portable.db'}"
    pg_url, pg_name = _create_pg_database(base)
    try:
        for url in (sqlite_url, pg_url):
            upgrade(url)
            assert sync_export(CsvExport(export), url).ok
        on_sqlite, on_pg = _reports(sqlite_url), _reports(pg_url)
    finally:
        from db.session import dispose_all

        dispose_all()
        _drop_pg_database(base, pg_name)
    assert on_sqlite.keys() == on_pg.keys() and len(on_sqlite) == 12
    for account_id, (data, text_) in on_sqlite.items():
        assert data == on_pg[account_id][0], account_id
        assert text_ == on_pg[account_id][1], account_id
