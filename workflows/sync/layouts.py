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
from workflows.sync.bulk import SYNC_LOCK


def layout_digest(names: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(names), separators=(",", ":")).encode()).hexdigest()


def layout_id(conn: Connection, names: Sequence[str]) -> int:
    """The id of the layout of `names` (in this order), stored first if new.

    Inside the sync's transaction: a rejected sync leaves no layout behind. Two syncs storing the same new
    layout at once both get the one row (the second waits on the unique digest, then finds it)."""
    digest = layout_digest(names)
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        # Syncs write usage rows one at a time from here on (the set-based path takes the same lock): a sync
        # waiting here on another's new layout holds nothing that one needs.
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({SYNC_LOCK})")
    insert = pg_insert if postgres else sqlite_insert
    stmt = insert(MetricLayout).values(digest=digest, names=list(names))
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["digest"]))
    return int(conn.execute(select(MetricLayout.id).where(MetricLayout.digest == digest)).scalar_one())
