"""The metric layout of a usage file: the names of its extra metric columns, stored once, not in every row."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from db.models.usage import MetricLayout


def layout_digest(names: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(names), separators=(",", ":")).encode()).hexdigest()


def layout_id(conn: Connection, names: Sequence[str]) -> int:
    """The id of the layout of `names` (in this order), stored first if new.

    Inside the sync's transaction, which holds `bulk.hold_sync_lock`: a rejected sync leaves no layout
    behind, and two syncs never wait on each other's new layout."""
    digest = layout_digest(names)
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(MetricLayout).values(digest=digest, names=list(names))
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["digest"]))
    return int(conn.execute(select(MetricLayout.id).where(MetricLayout.digest == digest)).scalar_one())
