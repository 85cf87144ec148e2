"""Which accounts a sync's load changed, so that its scoring step reads those accounts and no others.

A daily re-load usually changes a handful of rows. Comparing every account's scoring inputs with what was
stored to find them means reading the whole book (two minutes at 20,000 accounts); the database can say
instead which rows the load wrote. Every upsert of the sync writes a row only when a value differs (see
`merge.py`), so a written row is a changed row.

- accounts, subscriptions and usage rows: triggers local to the sync's transaction note the account of
  every row inserted, updated or deleted, before and after (a row moved to another account changes
  both). On PostgreSQL they are statement triggers reading transition tables (one call per statement,
  whatever the row count); on SQLite temporary triggers, which no other connection sees.
- instances: relabels write them while a sync runs, and a trigger would lock the table for the whole
  sync on PostgreSQL; the instance merge returns the accounts it touched instead (`Merger.finish_instances`).

None of it is used on a first load (every account is new), or when the database refuses a trigger (no
TRIGGER privilege): the scoring step then compares every account, as it would without this.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

# Table -> the column naming the account of a row.
TRACKED = {"accounts": "id", "subscriptions": "account_id", "usage_monthly": "account_id"}
_EVENTS = ("INSERT", "UPDATE", "DELETE")


class TouchedAccounts:
    """Records the accounts whose rows this transaction writes from `start` until `stop`."""

    def __init__(self, conn: Connection, tag: str) -> None:
        self.conn, self.tag = conn, tag
        self.pg = conn.dialect.name == "postgresql"
        self.extra: set[str] = set()  # filled by the caller (`Merger.finish_instances`)
        self.table = f"sync_touched_{tag}"

    @classmethod
    def start(cls, conn: Connection) -> TouchedAccounts | None:
        """Start recording; None on a first load (no usage row stored yet) or when triggers are refused."""
        if conn.exec_driver_sql("SELECT 1 FROM usage_monthly LIMIT 1").first() is None:
            return None
        if conn.dialect.name != "postgresql":
            # Temporary objects belong to this connection alone: fixed names, and anything a failed sync
            # left on a pooled connection is replaced.
            touched = cls(conn, "sqlite")
            touched.discard()
            touched._install()
            return touched
        touched = cls(conn, secrets.token_hex(4))
        savepoint = conn.begin_nested()
        try:
            touched._install()
        except SQLAlchemyError as exc:
            savepoint.rollback()
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.info("no change triggers (%s): the scoring step compares every account", reason)
            return None
        savepoint.commit()
        return touched

    def stop(self) -> set[str]:
        """Stop recording and return every account touched. Must run before the transaction commits:
        the triggers and the table are removed (a rollback removes them too)."""
        rows = self.conn.exec_driver_sql(f"SELECT DISTINCT account_id FROM {self.table}").scalars().all()
        for statement in self._removal():
            self.conn.exec_driver_sql(statement)
        return self.extra.union(r for r in rows if r is not None)

    def discard(self) -> None:
        """After a failed sync on SQLite: remove what is left (a rollback does not always reach temporary
        objects created before the transaction's first write). PostgreSQL's rollback removes them."""
        if self.pg:
            return
        for statement in self._removal(if_exists=True):
            try:
                self.conn.exec_driver_sql(statement)
            except SQLAlchemyError:
                log.debug("could not remove %s", statement)

    # ------------------------------------------------------------------------------------------------------
    def _install(self) -> None:
        if self.pg:
            self.conn.exec_driver_sql(f"CREATE TEMP TABLE {self.table} (account_id text) ON COMMIT DROP")
        else:
            self.conn.exec_driver_sql(f"CREATE TEMP TABLE {self.table} (account_id TEXT PRIMARY KEY) WITHOUT ROWID")
        for table, column in TRACKED.items():
            if self.pg:
                self._install_pg(table, column)
            else:
                self._install_sqlite(table, column)

    def _trigger(self, table: str, event: str) -> str:
        return f"{self.table}_{table}_{event.lower()}"

    def _install_sqlite(self, table: str, column: str) -> None:
        for event in _EVENTS:
            rows = {"INSERT": ("NEW",), "UPDATE": ("NEW", "OLD"), "DELETE": ("OLD",)}[event]
            # Not `INSERT OR IGNORE`: inside a trigger the outer statement's conflict policy (an upsert's ABORT)
            # overrides the trigger's own.
            body = " ".join(
                f"INSERT INTO {self.table} SELECT {r}.{column} WHERE NOT EXISTS"
                f" (SELECT 1 FROM {self.table} WHERE account_id = {r}.{column});"
                for r in rows
            )
            self.conn.exec_driver_sql(
                f"CREATE TEMP TRIGGER {self._trigger(table, event)} AFTER {event} ON main.{table} BEGIN {body} END"
            )

    def _install_pg(self, table: str, column: str) -> None:
        function = f"pg_temp.{self.table}_{table}"
        self.conn.exec_driver_sql(f"""
            CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF TG_OP <> 'INSERT' THEN INSERT INTO {self.table} SELECT DISTINCT {column} FROM old_rows; END IF;
                IF TG_OP <> 'DELETE' THEN INSERT INTO {self.table} SELECT DISTINCT {column} FROM new_rows; END IF;
                RETURN NULL;
            END $$
        """)
        for event in _EVENTS:
            tables = {
                "INSERT": "NEW TABLE AS new_rows",
                "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                "DELETE": "OLD TABLE AS old_rows",
            }[event]
            self.conn.exec_driver_sql(
                f"CREATE TRIGGER {self._trigger(table, event)} AFTER {event} ON {table}"
                f" REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION {function}()"
            )

    def _removal(self, *, if_exists: bool = False) -> list[str]:
        exists = "IF EXISTS " if if_exists else ""
        out: list[str] = []
        for table in TRACKED:
            for event in _EVENTS:
                name = self._trigger(table, event)
                on = f"{name} ON {table}" if self.pg else f"temp.{name}"
                out.append(f"DROP TRIGGER {exists}{on}")
            if self.pg:
                out.append(f"DROP FUNCTION {exists}pg_temp.{self.table}_{table}()")
        out.append(f"DROP TABLE {exists}{self.table}" if self.pg else f"DROP TABLE {exists}temp.{self.table}")
        return out
