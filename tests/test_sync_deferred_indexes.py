"""A first load into an empty usage table builds its indexes after the rows (workflows/sync/deferred_indexes.py).

What must hold: the table ends with exactly the indexes and constraints it had (an operator's own
index included), a table that holds rows is never touched, a key the export repeats is still
reported at its line with the indexes left as they were, a sync whose database user may not drop
them loads with them in place, and the health check, the Home tab and `/usage` answer at once while a
first load holds the table.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import make_url, text
from support.sync_helpers import copy_fixture, edit_usage, read_csv

from bot.cli import cli
from bot.features.home.events import build_home_view
from bot.server import health
from db.session import get_engine, session_scope
from workflows.portfolio import Viewer
from workflows.settings import Settings
from workflows.sync import CsvExport, SyncResult, sync_export
from workflows.sync import run as sync_run
from workflows.sync.deferred_indexes import DeferredIndexes

pg_only = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"), reason="PostgreSQL's bulk load"
)

OPERATOR_INDEX = "ops_usage_monthly_version"


def _catalog(url: str, sql: str) -> list[tuple[Any, ...]]:
    with get_engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def _indexes(url: str) -> dict[str, tuple[int, str]]:
    """usage_monthly's indexes: name -> (oid, definition)."""
    rows = _catalog(
        url,
        "SELECT c.relname, c.oid, pg_get_indexdef(c.oid) FROM pg_index x"
        " JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = 'usage_monthly'::regclass",
    )
    return {name: (int(oid), definition) for name, oid, definition in rows}


def _constraints(url: str) -> set[tuple[Any, ...]]:
    sql = "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'usage_monthly'::regclass"
    return set(_catalog(url, sql))


@pytest.fixture
def operator_index(db_url: str) -> Iterator[str]:
    """An index someone added by hand: a first load must bring it back too."""
    with get_engine(db_url).begin() as conn:
        conn.exec_driver_sql(f"CREATE INDEX {OPERATOR_INDEX} ON usage_monthly (cleaned_version)")
    yield db_url
    with get_engine(db_url).begin() as conn:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {OPERATOR_INDEX}")


@pytest.fixture
def set_aside(monkeypatch: pytest.MonkeyPatch) -> list[DeferredIndexes | None]:
    """What each sync's `set_aside_if_empty` returned."""
    seen: list[DeferredIndexes | None] = []
    real = DeferredIndexes.set_aside_if_empty

    def spy(conn: object, table: str) -> DeferredIndexes | None:
        result = real(conn, table)  # type: ignore[arg-type]
        seen.append(result)
        return result

    monkeypatch.setattr(sync_run.DeferredIndexes, "set_aside_if_empty", spy)
    return seen


@pg_only
def test_a_first_load_ends_with_the_same_indexes_and_constraints(
    operator_index: str, set_aside: list[DeferredIndexes | None], tmp_path: Path
) -> None:
    url = operator_index
    before, constraints = _indexes(url), _constraints(url)
    result = sync_export(CsvExport(copy_fixture(tmp_path / "e")), url)
    assert result.ok and result.usage_rows > 0
    deferred = set_aside[0]
    assert deferred is not None, "an empty table's indexes wait for its rows"
    names = {ix.name for ix in deferred.indexes}
    assert {OPERATOR_INDEX, "pk_usage_monthly"} <= names
    after = _indexes(url)
    assert {n: d for n, (_, d) in after.items()} == {n: d for n, (_, d) in before.items()}
    assert _constraints(url) == constraints
    # Built anew, not kept: the rebuilt ones are other relations than before.
    assert all(after[n][0] != before[n][0] for n in names)


@pg_only
def test_a_table_that_holds_rows_keeps_its_indexes(
    db_url: str, set_aside: list[DeferredIndexes | None], tmp_path: Path
) -> None:
    folder = copy_fixture(tmp_path / "e")
    assert sync_export(CsvExport(folder), db_url).ok
    before, asked = _indexes(db_url), len(set_aside)
    table = read_csv(folder / "usage_monthly.csv")
    users = table[1][table[0].index("billable_user_count")]
    edit_usage(folder, {(0, "billable_user_count"): str(int(users or 0) + 1)})
    again = sync_export(CsvExport(folder), db_url)
    assert again.ok and again.changes.usage_rows >= 1
    assert len(set_aside) == asked, "a sync into a database with accounts does not even look"
    assert _indexes(db_url) == before, "same index relations: nothing dropped or rebuilt"


@pg_only
def test_a_database_with_accounts_but_no_usage_rows_loads_with_the_indexes_in_place(
    db_url: str, set_aside: list[DeferredIndexes | None], tmp_path: Path
) -> None:
    """Readers that find accounts read usage_monthly: its lock must not be held while they may."""
    folder = copy_fixture(tmp_path / "e")
    path = folder / "usage_monthly.csv"
    full = path.read_text(encoding="utf-8")
    path.write_text(full.splitlines()[0] + "\n", encoding="utf-8")
    assert sync_export(CsvExport(folder), db_url).ok  # accounts and subscriptions only
    before, asked = _indexes(db_url), len(set_aside)
    path.write_text(full, encoding="utf-8")
    result = sync_export(CsvExport(folder), db_url)
    assert result.ok and result.usage_rows > 0
    assert set_aside[asked:] == [] and _indexes(db_url) == before


@pg_only
def test_a_repeated_key_is_reported_at_its_line_and_the_indexes_stay(
    db_url: str, set_aside: list[DeferredIndexes | None], tmp_path: Path
) -> None:
    folder = copy_fixture(tmp_path / "e")
    path = folder / "usage_monthly.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join([*lines, lines[1]]) + "\n", encoding="utf-8")
    before, constraints = _indexes(db_url), _constraints(db_url)
    result = sync_export(CsvExport(folder), db_url)
    assert result.status == "rejected"
    assert any(p.startswith(f"usage_monthly.csv:{len(lines) + 1}: ") and "duplicate row" in p for p in result.problems)
    assert set_aside and set_aside[0] is not None, "the fast path set the indexes aside before the repeat was found"
    assert _indexes(db_url) == before and _constraints(db_url) == constraints
    with get_engine(db_url).connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM usage_monthly").scalar_one() == 0


def test_sqlite_keeps_its_indexes(tmp_path: Path) -> None:
    sqlite_url = f"sqlite:///{tmp_path / 'x.db'}"
    with get_engine(sqlite_url).begin() as conn:
        conn.exec_driver_sql("CREATE TABLE usage_monthly (id INTEGER PRIMARY KEY, v TEXT)")
        conn.exec_driver_sql("CREATE INDEX ix_v ON usage_monthly (v)")
        assert DeferredIndexes.set_aside_if_empty(conn, "usage_monthly") is None
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'ix_v'").scalar_one() == 1


@pytest.fixture
def not_the_owner(db_url: str) -> Iterator[str]:
    """The URL of a role that may read and write every table but owns none (so may not drop an index)."""
    role = f"usagebot_loader_{secrets.token_hex(3)}"
    admin = get_engine(db_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
        conn.exec_driver_sql(f"GRANT CREATE, USAGE ON SCHEMA public TO {role}")
        conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
        conn.exec_driver_sql(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {role}")
    url = make_url(db_url).set(username=role).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")
            conn.exec_driver_sql(f"DROP ROLE {role}")


@pg_only
def test_a_sync_that_may_not_drop_indexes_loads_with_them(
    not_the_owner: str, db_url: str, set_aside: list[DeferredIndexes | None], tmp_path: Path
) -> None:
    before = _indexes(db_url)
    result = sync_export(CsvExport(copy_fixture(tmp_path / "e")), not_the_owner)
    assert result.ok and result.usage_rows > 0
    assert set_aside and all(s is None for s in set_aside)  # asked by each first-load path it tried
    assert _indexes(db_url) == before


def _within(seconds: float, call: Callable[[], object]) -> object:
    """`call()`'s result, or a failure if it has not returned within `seconds` (it may be waiting on a lock)."""
    out: list[object] = []
    worker = threading.Thread(target=lambda: out.append(call()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert out, f"still waiting after {seconds} s"
    return out[0]


@pg_only
def test_the_health_check_home_and_usage_answer_at_once_while_a_first_load_holds_the_usage_table(
    settings: Settings, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first load keeps usage_monthly locked until it commits (minutes at scale): readers must not wait."""
    holding, release = threading.Event(), threading.Event()
    rebuild = DeferredIndexes.rebuild

    def held(self: DeferredIndexes) -> None:
        holding.set()
        release.wait(60)
        rebuild(self)

    monkeypatch.setattr(DeferredIndexes, "rebuild", held)
    synced: list[SyncResult] = []
    folder = copy_fixture(tmp_path / "e")
    loader = threading.Thread(target=lambda: synced.append(sync_export(CsvExport(folder), db_url)), daemon=True)
    loader.start()
    try:
        assert holding.wait(60), "the first load set the indexes aside"
        assert _within(5, lambda: health(settings)) == (200, {"status": "ok", "database": "ok", "data_as_of": None})
        admin = Viewer(user_id="U0ADMIN01", email="admin@example.com", is_admin=True)
        tam = Viewer(user_id="U0TAM0001", email="tam@example.com")
        for viewer, scope in ((admin, "all"), (tam, "mine")):
            with session_scope(db_url) as s:
                built = _within(5, partial(build_home_view, s, viewer, scope, 1))
            assert isinstance(built, tuple) and built[0]["type"] == "home"
        tried = _within(5, partial(CliRunner().invoke, cli, ["try", "/usage acme"]))
        assert isinstance(tried, Result) and tried.exit_code == 0 and "no accounts loaded yet" in tried.output
    finally:
        release.set()
        loader.join(120)
    assert synced and synced[0].ok
    assert health(settings)[1]["data_as_of"] is not None
