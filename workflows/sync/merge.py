"""Set-based upserts from the staging tables into the real ones, writing only what changed.

Every statement carries a "did anything change" guard (`IS DISTINCT FROM` on PostgreSQL, its
SQLite spelling `IS NOT`), so re-loading the same export rewrites no row and the row counts the
database reports are the rows that really changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from db.models.usage import SCORED_METRIC_COLUMNS
from workflows.sync.stage import STAGE_TABLES
from workflows.sync.validate import USAGE_STAGE

log = logging.getLogger(__name__)

ACCOUNT_FIELDS = ("name", "name_key", "customer_since_date", "tam_name", "tam_email", "sales_segment")
SUBSCRIPTION_FIELDS = (
    "name",
    "account_id",
    "product_tier_name",
    "delivery_type",
    "start_date",
    "end_date",
    "licensed_seats",
    "arr",
)
USAGE_FIELDS = (
    "account_id",
    "subscription_version_id",
    "delivery_type",
    "deployment_type",
    "ping_created_at",
    "cleaned_version",
    "license_md5",
    "license_mapped",
    "instance_type",
    "included_in_health",
    "license_user_count",
    "license_user_count_source",
    "billable_user_count",
    "active_user_count",
    "max_historical_user_count",
    *SCORED_METRIC_COLUMNS,
)
INSTANCE_ATTRS = (
    "account_id",
    "delivery_type",
    "deployment_type",
    "installation_id",
    "uuid",
    "hostname",
    "namespace_id",
    "namespace_name",
    "creation_date",
)
# What a new instance row is first written with (any row of it will do: see `new_instances`).
_NEW_INSTANCE_FROM = ("identity", "account_id", "delivery_type", "deployment_type")
INSTANCE_SUMMARY = ("first_seen_month", "last_seen_month", "last_ping_at", "last_version", "last_billable_users")


@dataclass
class Changes:
    accounts: int = 0
    subscriptions: int = 0
    instances: int = 0
    usage_rows: int = 0

    @property
    def total(self) -> int:
        return self.accounts + self.subscriptions + self.instances + self.usage_rows


# Written with every usage row, compared by the "did anything change" guard.
_USAGE_WRITTEN = (*USAGE_FIELDS, "extra_metrics", "metric_layout_id")


class Merger:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.distinct = "IS DISTINCT FROM" if self.pg else "IS NOT"
        # The metric layout of the usage rows being loaded (workflows/sync/layouts.py): names of the values
        # each row's extra_metrics lists. Set before any usage row is written.
        self.layout_id: int | None = None
        # The instances this sync created were written whole (`new_instances_whole`): nothing left to finish.
        self.instances_whole = False

    def _layout(self) -> str:
        if self.layout_id is None:
            raise RuntimeError("usage rows written before their metric layout was stored")
        return str(int(self.layout_id))

    def _run(self, sql: str, accounts: set[str] | None = None, returning: str = "") -> int:
        """Run `sql`; the rows it wrote. With `accounts`, the `returning` column of each row written (its
        account) is added to it."""
        t = time.perf_counter()
        if accounts is None:
            n = max(self.conn.exec_driver_sql(sql).rowcount, 0)
        else:
            rows = self.conn.exec_driver_sql(f"{sql} RETURNING {returning}").scalars().all()
            accounts.update(a for a in rows if a is not None)
            n = len(rows)
        log.debug("%d rows in %.2fs: %s", n, time.perf_counter() - t, " ".join(sql.split())[:70])
        return n

    def _guard(self, table: str, fields: tuple[str, ...], other: str = "excluded") -> str:
        left = ", ".join(self._cmp(f"{table}.{f}", f) for f in fields)
        right = ", ".join(self._cmp(f"{other}.{f}", f) for f in fields)
        return f"({left}) {self.distinct} ({right})"

    def _cmp(self, expr: str, field: str) -> str:
        # PostgreSQL's json type has no equality operator. The json type keeps its input text and the
        # sync always writes canonical JSON (sorted keys, compact), so comparing text is exact and
        # far cheaper than casting both sides to jsonb.
        return f"CAST({expr} AS text)" if self.pg and field == "extra_metrics" else expr

    def upsert_simple(self, table: str, stage_name: str, fields: tuple[str, ...]) -> int:
        cols = ("id", *fields)
        sets = ", ".join(f"{f} = excluded.{f}" for f in fields)
        return self._run(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {stage_name} WHERE true "
            f"ON CONFLICT (id) DO UPDATE SET {sets} WHERE {self._guard(table, fields)}"
        )

    def accounts(self) -> int:
        return self.upsert_simple("accounts", STAGE_TABLES["accounts"], ACCOUNT_FIELDS)

    def subscriptions(self) -> int:
        return self.upsert_simple("subscriptions", STAGE_TABLES["subscriptions"], SUBSCRIPTION_FIELDS)

    def max_instance_id(self) -> int:
        return int(self.conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM instances").scalar_one())

    def new_instances(self, stage: str = STAGE_TABLES["usage_monthly"]) -> int:
        """Rows for identities first seen in this batch, so its usage rows have an instance id.
        Their attributes and summaries are placeholders until `finish_instances`."""
        return self._run(f"""
            INSERT INTO instances (identity, account_id, delivery_type, deployment_type, export_label, label,
                                   label_source, label_version)
            SELECT s.identity, MIN(s.account_id), MIN(s.delivery_type), MIN(s.deployment_type),
                   'Unknown', 'Unknown', 'export', 0
            FROM {stage} s
            WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.identity = s.identity)
            GROUP BY s.identity
        """)

    def new_instances_whole(self, stage: str) -> int:
        """Into a database without instances: every instance of `stage` (one summary row each, as
        `finish_instances` reads it) written once with its attributes, label and summaries, instead of a
        placeholder now and the same values again at the end."""
        fields = ("identity", *INSTANCE_ATTRS, "export_label", *INSTANCE_SUMMARY)
        n = self._run(f"""
            INSERT INTO instances ({", ".join(fields)}, label, label_source, label_version)
            SELECT {", ".join(fields)}, export_label, 'export', 0 FROM {stage}
        """)
        self.instances_whole = True
        return n

    def usage(self, stage: str = STAGE_TABLES["usage_monthly"]) -> int:
        """Upsert the staged batch of usage rows by (snapshot_month, instance, subscription)."""
        usage_cols = ("snapshot_month", "instance_id", "subscription_id", *_USAGE_WRITTEN)
        picked = {"instance_id": "i.id", "metric_layout_id": self._layout()}
        if self.pg:
            picked["extra_metrics"] = "CAST(s.extra_metrics AS json)"
        select_cols = ", ".join(picked.get(c, f"s.{c}") for c in usage_cols)
        sets = ", ".join(f"{f} = excluded.{f}" for f in _USAGE_WRITTEN)
        return self._run(f"""
            INSERT INTO usage_monthly ({", ".join(usage_cols)})
            SELECT {select_cols} FROM {stage} s JOIN instances i ON i.identity = s.identity WHERE true
            ON CONFLICT (snapshot_month, instance_id, subscription_id) DO UPDATE SET {sets}
            WHERE {self._guard("usage_monthly", _USAGE_WRITTEN)}
        """)

    def usage_rows_sqlite(
        self,
        rows: Iterable[Sequence[Any]],
        ids: dict[str, int],
        formats: Sequence[tuple[int, Callable[[Any], Any]]] = (),
    ) -> tuple[int, int]:
        """Upsert validated usage rows (USAGE_STAGE order) straight into usage_monthly.

        `formats` turns the values at those positions into what SQLite stores (dates and timestamps,
        see `Stager.sqlite_formats`); it is applied while each row's parameters are built, the one
        pass over the batch that happens anyway.

        SQLite: one prepared statement run per row reads the row's values where they are, with no
        staging table written and read back in between. `ids` maps identities to instance ids and
        is kept up to date: identities not in it first get an instance row (placeholders until
        `finish_instances`, as in `new_instances`). Returns (instances created, usage rows inserted
        or changed).
        """
        rows = rows if isinstance(rows, list) else list(rows)
        ident, account, delivery, deployment = (USAGE_STAGE.index(c) for c in _NEW_INSTANCE_FROM)
        new: dict[str, tuple[Any, ...]] = {}
        if {r[ident] for r in rows}.difference(ids):
            for r in rows:
                if r[ident] not in ids and r[ident] not in new:
                    new[r[ident]] = (r[ident], r[account], r[delivery], r[deployment])
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        cur = dbapi.cursor()
        try:
            if new:
                cur.executemany(
                    "INSERT INTO instances (identity, account_id, delivery_type, deployment_type, export_label,"
                    " label, label_source, label_version) VALUES (?, ?, ?, ?, 'Unknown', 'Unknown', 'export', 0)",
                    list(new.values()),
                )
                newest = max(ids.values(), default=0)
                ids.update(cur.execute("SELECT identity, id FROM instances WHERE id > ?", (newest,)).fetchall())
            fields = _USAGE_WRITTEN
            cols = ("snapshot_month", "instance_id", "subscription_id", *fields)
            # ?N is the row's N-th value (1-based): the staged tuple is bound as it is, its instance id after it.
            at = {c: f"?{i + 1}" for i, c in enumerate(USAGE_STAGE)}
            at["instance_id"] = f"?{len(USAGE_STAGE) + 1}"
            at["metric_layout_id"] = self._layout()
            sets = ", ".join(f"{f} = excluded.{f}" for f in fields)
            params: list[list[Any]] = []
            for r in rows:
                p = list(r)
                for i, fmt in formats:
                    if (v := p[i]) is not None:
                        p[i] = fmt(v)
                p.append(ids[p[ident]])
                params.append(p)
            cur.executemany(
                f"INSERT INTO usage_monthly ({', '.join(cols)}) VALUES ({', '.join(at[c] for c in cols)})"
                f" ON CONFLICT (snapshot_month, instance_id, subscription_id) DO UPDATE SET {sets}"
                f" WHERE {self._guard('usage_monthly', fields)}",
                params,
            )
            return len(new), max(cur.rowcount, 0)
        finally:
            cur.close()

    def instance_ids(self) -> dict[str, int]:
        return dict(self.conn.exec_driver_sql("SELECT identity, id FROM instances").tuples().all())

    def usage_set_based(self, stage: str) -> int:
        """The whole export's usage rows at once (PostgreSQL): changed rows updated, new ones inserted.

        One `MERGE` (PostgreSQL 15+; an UPDATE and an INSERT before that): a single join of the
        staged rows with the stored ones, instead of `INSERT … ON CONFLICT`, whose speculative
        insertion costs more per row than the work itself when a million rows arrive together.
        A key repeated in the export fails the statement (unique index), and the caller falls
        back to the row-by-row path, which reports it by line. The sync holds `bulk.hold_sync_lock`, so
        no other sync inserts the same key in between.
        """
        fields = _USAGE_WRITTEN
        cols = ("snapshot_month", "instance_id", "subscription_id", *fields)
        key = (
            "u.snapshot_month = s.snapshot_month AND u.instance_id = s.instance_id"
            " AND u.subscription_id = s.subscription_id"
        )
        source = (
            f"SELECT i.id AS instance_id, {', '.join('s.' + c for c in cols if c in USAGE_STAGE)},"
            f" {self._layout()} AS metric_layout_id FROM {stage} s JOIN instances i ON i.identity = s.identity"
        )
        sets = ", ".join(f"{f} = {self._staged(f)}" for f in fields)
        values = ", ".join(self._staged(c) for c in cols)
        guard = self._guard("u", fields, "s")
        if (self.conn.dialect.server_version_info or (0,)) >= (15,):
            return self._run(f"""
                MERGE INTO usage_monthly u USING ({source}) s ON {key}
                WHEN MATCHED AND {guard} THEN UPDATE SET {sets}
                WHEN NOT MATCHED THEN INSERT ({", ".join(cols)}) VALUES ({values})
            """)
        changed = self._run(f"UPDATE usage_monthly u SET {sets} FROM ({source}) s WHERE {key} AND {guard}")
        return changed + self._run(f"""
            INSERT INTO usage_monthly ({", ".join(cols)}) SELECT {values} FROM ({source}) s
            WHERE NOT EXISTS (SELECT 1 FROM usage_monthly u WHERE {key})
        """)

    def _staged(self, field: str) -> str:
        return "CAST(s.extra_metrics AS json)" if field == "extra_metrics" else f"s.{field}"

    def finish_instances(self, max_before: int, accounts: set[str] | None = None) -> int:
        """Write each instance's summary from the staged one (one row per instance).

        Instances created by this sync (id > max_before) take it whole; that is not counted again.
        Instances that existed keep what is newer: attributes and the export's label from
        whichever latest row is newer (the export's when equal), first/last month as min/max,
        version and users from the newer ping. The label follows the export's only while nobody
        has set it (label_source = 'export'); a person's label is never touched.

        `accounts`: when given, every account an instance was written for, before and after, is added to it
        (see workflows/sync/touched.py).
        """
        if self.instances_whole:
            return 0  # the only instances are this sync's, already written whole
        stage = STAGE_TABLES["instances"]
        fields = (*INSTANCE_ATTRS, "export_label", *INSTANCE_SUMMARY)
        sets = ", ".join(f"{f} = n.{f}" for f in fields)
        self._run(
            f"""
            UPDATE instances SET {sets}, label = n.export_label
            FROM {stage} n
            WHERE instances.identity = n.identity AND instances.id > {max_before}
            """,
            accounts,
            "instances.account_id",
        )
        if not max_before:
            return 0
        if accounts is not None:
            # SQLite's RETURNING sees only the updated table: an instance's account before the update is read
            # here (a superset: the update below may keep the stored attributes).
            accounts.update(
                self.conn.exec_driver_sql(
                    f"SELECT DISTINCT i.account_id FROM instances i JOIN {stage} n ON n.identity = i.identity"
                    f" WHERE i.id <= {max_before} AND i.account_id <> n.account_id"
                ).scalars()
            )
        take_new = "(i.last_seen_month IS NULL OR n.last_seen_month >= i.last_seen_month)"
        new_ping = "(n.last_ping_at IS NOT NULL AND (i.last_ping_at IS NULL OR n.last_ping_at >= i.last_ping_at))"
        picks = [f"CASE WHEN {take_new} THEN n.{f} ELSE i.{f} END AS {f}" for f in (*INSTANCE_ATTRS, "export_label")]
        picks += [
            "CASE WHEN i.first_seen_month IS NULL OR n.first_seen_month < i.first_seen_month"
            " THEN n.first_seen_month ELSE i.first_seen_month END AS first_seen_month",
            "CASE WHEN i.last_seen_month IS NULL OR n.last_seen_month > i.last_seen_month"
            " THEN n.last_seen_month ELSE i.last_seen_month END AS last_seen_month",
        ]
        picks += [f"CASE WHEN {new_ping} THEN n.{f} ELSE i.{f} END AS {f}" for f in INSTANCE_SUMMARY[2:]]
        return self._run(
            f"""
            UPDATE instances SET {sets},
                label = CASE WHEN instances.label_source = 'export' THEN n.export_label ELSE instances.label END,
                label_version = instances.label_version + CASE
                    WHEN instances.label_source = 'export' AND instances.label <> n.export_label THEN 1 ELSE 0 END
            FROM (
                SELECT i.id AS iid, {", ".join(picks)}
                FROM instances i JOIN {stage} n ON n.identity = i.identity
                WHERE i.id <= {max_before}
            ) n
            WHERE instances.id = n.iid AND (
                {self._guard("instances", fields, "n")}
                OR (instances.label_source = 'export' AND instances.label <> n.export_label)
            )
            """,
            accounts,
            "instances.account_id",
        )
