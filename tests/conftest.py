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
from fakes.signing import SIGNING_SECRET
from fakes.slack import FakeSlack
from fakes.wsgi import serve
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from db.migrate import upgrade
from db.models import Base
from db.queries.account_data import forget_cached_versions
from db.session import dispose_all, get_engine
from workflows.settings import Settings, load_settings

# Fixtures shared by several test modules (fake GitLab, settings for the metric-request flows).
pytest_plugins = ["support.request_helpers"]

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
    """The migrated database, emptied before the test (and the caches keyed by its data stamp, which repeat)."""
    truncate_all(database_url)
    forget_cached_versions()
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


# ---------------------------------------------------------------- Slack: fake server and the running bot
@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def bot_settings(db_url: str, fake_slack: FakeSlack, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a bot talking to the fake Slack; the environment is set too, for subprocesses."""
    env = {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake_slack.api_url,
        "PRODUCT_ANALYTICS_CHANNEL": "C0PRODANA1",
        "CS_OPS_ADMINS": "U0ADMIN01",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    fake_slack.add_channel("C0PRODANA1", name="cs-product-analytics")
    return load_settings(_env_file=None, **{k.lower(): v for k, v in env.items()})


@pytest.fixture
def bot_url(bot_settings: Settings) -> Iterator[str]:
    """Base URL of the whole HTTP app (the same WSGI app `usagebot serve` runs), served in-process."""
    from bot.server import make_wsgi_app

    with serve(make_wsgi_app(bot_settings)) as url:
        yield url
