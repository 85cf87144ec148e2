"""The migrations build exactly the schema the models describe, as one head."""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from support.sync_helpers import FIXTURE

from db.migrate import alembic_config, current_heads
from db.models import Base
from db.session import get_engine
from workflows.sync import CsvExport, sync_export


def test_one_head_and_the_database_is_at_it(db_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(db_url)).get_heads()
    assert len(heads) == 1
    assert current_heads(db_url) == set(heads)


def test_migrated_schema_matches_the_models(db_url: str) -> None:
    with get_engine(db_url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], diff


def test_metric_layouts_downgrade_gives_rows_their_names_back(tmp_path: Path) -> None:
    """Migration 0017 undone: every row's extra metrics become a JSON object of name and value again."""
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    cfg = alembic_config(url)
    command.upgrade(cfg, "head")
    assert sync_export(CsvExport(FIXTURE), url).ok
    with get_engine(url).connect() as conn:
        stored = [json.loads(x) for x in conn.execute(text("SELECT extra_metrics FROM usage_monthly")).scalars()]
    assert all(isinstance(x, list) for x in stored)
    command.downgrade(cfg, "0016_score_columns")
    with get_engine(url).connect() as conn:
        legacy = [json.loads(x) for x in conn.execute(text("SELECT extra_metrics FROM usage_monthly")).scalars()]
    assert all(isinstance(x, dict) for x in legacy)
    assert {"issues_created_28_days_user": 125, "merge_requests_28_days_user": 210} in legacy
    assert all(None not in x.values() and "edition" not in x for x in legacy)
    command.upgrade(cfg, "head")
    get_engine(url).dispose()
