"""Shared fixtures: a real, freshly migrated database for every test session.

`TEST_DATABASE_URL` picks the database server: unset means SQLite in a temporary folder; a
PostgreSQL URL means a new database created for this run on that server (dropped at the end).
Each test starts from empty tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.settings import Settings, load_settings
from db.migrate import upgrade
from db.models import Base
from db.session import dispose_all, get_engine

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = Path(__file__).parent / "fixtures"


def _create_pg_database(base_url: str) -> tuple[str, str]:
    url = make_url(base_url)
    name = f"usagebot_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False), name


def _drop_pg_database(base_url: str, name: str) -> None:
    admin = create_engine(make_url(base_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of this run's migrated database."""
    base = os.environ.get("TEST_DATABASE_URL", "").strip()
    if base.startswith("postgresql"):
        url, name = _create_pg_database(base)
        upgrade(url)
        yield url
        dispose_all()
        _drop_pg_database(base, name)
    else:
        path = tmp_path_factory.mktemp("db") / "usagebot-test.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        yield url
        dispose_all()


def truncate_all(url: str) -> None:
    engine = get_engine(url)
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))


@pytest.fixture
def db_url(database_url: str) -> str:
    """The migrated database, emptied before the test."""
    truncate_all(database_url)
    return database_url


@pytest.fixture
def is_postgres(db_url: str) -> bool:
    return db_url.startswith("postgresql")


@pytest.fixture
def settings(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings pointing at the test database; the environment is set too, for subprocesses."""
    monkeypatch.setenv("DATABASE_URL", db_url)
    return load_settings(database_url=db_url, _env_file=None)


@pytest.fixture
def shared_dir() -> Path:
    """`../shared` (present in CI and on developer machines, absent in a fresh clone)."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present in this checkout")
    return SHARED
