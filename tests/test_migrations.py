"""The migrations build exactly the schema the models describe, as one head."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from db.migrate import alembic_config, current_heads
from db.models import Base
from db.session import get_engine


def test_one_head_and_the_database_is_at_it(db_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(db_url)).get_heads()
    assert len(heads) == 1
    assert current_heads(db_url) == set(heads)


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff
