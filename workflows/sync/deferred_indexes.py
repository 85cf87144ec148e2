"""Filling an empty table on PostgreSQL: its secondary indexes are built once the rows are in.

Keeping a B-tree up to date row by row costs several times more than sorting once and building it
(PostgreSQL's own advice for bulk loads, "Populating a Database"). At 20,000 accounts the first load
of 1.27 M usage rows took 36.6 s with usage_monthly's four indexes in place, and 22.4 s plus 4.7 s
of index builds with only the primary key.

Only for an empty table, and the sync uses it only when no account was stored either. Dropping an
index takes a lock that makes every query of the table wait until the sync's transaction ends (the
scoring step included: minutes at 20,000 accounts). With nothing stored there is nothing such a query
could show, and readers ask first whether any account is stored (`db/queries/health.py`), which the
lock does not touch: the health check, the Home tab and `/usage` answer at once during a first load.
A table that holds rows keeps its indexes, and its readers never wait.

Not on SQLite: there the row-by-row load is paced by the checking process, not by the writes (20,000
accounts: 51.6 s with the indexes in place, 53.0 s with two of them built after).

What is set aside: every index, the primary key's included (at 20,000 accounts it cost the binary `COPY`
of the rows about 1.0 s kept up to date, 0.5 s built after), except one a foreign key depends on and one
backing a constraint other than a plain unique one or the primary key. Each comes
back from its own definition (`pg_get_indexdef`), so an index an operator added is rebuilt as it was;
a unique or primary key constraint gets its index back through `ADD CONSTRAINT … USING INDEX`. All of it is
transactional: a failure or a rollback leaves the indexes as they were. A key the export repeats
fails the unique index's build, as it would have failed the insert. Only a table's owner may drop its
indexes: a sync whose database user may not loads with them in place.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# Memory for each index build's sort (PostgreSQL's default is 64 MB): the usage table's keys at 20,000
# accounts sort in memory instead of in batches on disk. Held until the builds end.
BUILD_MEMORY = "256MB"

_INDEXES = text("""
    SELECT n.nspname, i.relname, pg_get_indexdef(x.indexrelid), c.conname, COALESCE(c.contype = 'p', false)
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_namespace n ON n.oid = i.relnamespace
    LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid
    WHERE x.indrelid = CAST(:table AS regclass)
      AND (c.oid IS NULL OR (c.contype IN ('u', 'p') AND NOT c.condeferrable))
      AND NOT EXISTS (SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = x.indexrelid)
    ORDER BY i.relname
""")


@dataclass(frozen=True)
class Index:
    schema: str
    name: str
    definition: str  # CREATE [UNIQUE] INDEX …, as PostgreSQL prints it
    constraint: str | None  # the unique or primary key constraint it backs
    primary: bool = False  # that constraint is the primary key


class DeferredIndexes:
    """The indexes of `table` set aside by `set_aside_if_empty`, until `rebuild`."""

    def __init__(self, conn: Connection, table: str, indexes: list[Index]) -> None:
        self.conn, self.table, self.indexes = conn, table, indexes

    @classmethod
    def set_aside_if_empty(cls, conn: Connection, table: str) -> DeferredIndexes | None:
        """Drop `table`'s secondary indexes when it holds no row (PostgreSQL only).

        None when it holds rows, has no such index, or the database refuses the drop (not the table's owner).
        """
        if conn.dialect.name != "postgresql":
            return None
        quoted = conn.dialect.identifier_preparer.quote(table)
        if conn.exec_driver_sql(f"SELECT 1 FROM {quoted} LIMIT 1").first() is not None:
            return None
        indexes = [Index(*row) for row in conn.execute(_INDEXES, {"table": table}).tuples()]
        if not indexes:
            return None
        q = conn.dialect.identifier_preparer.quote
        savepoint = conn.begin_nested()
        try:
            for ix in indexes:
                if ix.constraint is not None:
                    conn.exec_driver_sql(f"ALTER TABLE {quoted} DROP CONSTRAINT {q(ix.constraint)}")
                else:
                    conn.exec_driver_sql(f"DROP INDEX {q(ix.schema)}.{q(ix.name)}")
        except SQLAlchemyError as exc:
            # A sync whose database user does not own the table may not drop its indexes: it loads with them.
            savepoint.rollback()
            log.info("indexes of %s kept during the load (%s)", table, str(exc).splitlines()[0] if str(exc) else exc)
            return None
        savepoint.commit()
        return cls(conn, table, indexes)

    def rebuild(self) -> None:
        """Build every index set aside again, with its constraint; before the transaction commits."""
        q = self.conn.dialect.identifier_preparer.quote
        # A failure rolls back the caller's savepoint, and this setting with it.
        self.conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{BUILD_MEMORY}'")
        for ix in self.indexes:
            t = time.perf_counter()
            self.conn.exec_driver_sql(ix.definition)
            if ix.constraint is not None:
                kind = "PRIMARY KEY" if ix.primary else "UNIQUE"
                self.conn.exec_driver_sql(
                    f"ALTER TABLE {q(self.table)} ADD CONSTRAINT {q(ix.constraint)} {kind} USING INDEX {q(ix.name)}"
                )
            log.debug("index %s built in %.1fs", ix.name, time.perf_counter() - t)
        self.conn.exec_driver_sql("SET LOCAL maintenance_work_mem TO DEFAULT")
