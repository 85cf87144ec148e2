"""Set-based upserts from the staging tables into the real ones, writing only what changed.

Every statement carries a "did anything change" guard (`IS DISTINCT FROM` on PostgreSQL, its
SQLite spelling `IS NOT`), so re-loading the same export rewrites no row and the row counts the
database reports are the rows that really changed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from db.models.usage import SCORED_METRIC_COLUMNS
from workflows.sync.stage import STAGE_TABLES

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


def _summary(rows: str, key: str) -> str:
    """Per instance (`key`): first/last month, last ping, the latest row's type, and version and
    billable users from the latest row with a ping. `rows` must expose key, snapshot_month,
    ping_created_at, subscription_id, instance_type, cleaned_version, billable_user_count.

    The tie-break (month, ping, subscription) is the same for staging and stored rows, so a new
    instance's summary computed from staging equals the one later computed from history.
    """
    order = "snapshot_month DESC, ping_created_at DESC NULLS LAST, subscription_id DESC"
    return f"""
        SELECT agg.k AS k, agg.first_seen_month, agg.last_seen_month, agg.last_ping_at,
               COALESCE(lr.instance_type, 'Unknown') AS export_label,
               pr.cleaned_version AS last_version, pr.billable_user_count AS last_billable_users
        FROM (SELECT {key} AS k, MIN(snapshot_month) AS first_seen_month, MAX(snapshot_month) AS last_seen_month,
                     MAX(ping_created_at) AS last_ping_at
              FROM ({rows}) r0 GROUP BY {key}) agg
        JOIN (SELECT {key} AS k, instance_type,
                     ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order}) AS rn
              FROM ({rows}) r1) lr ON lr.k = agg.k AND lr.rn = 1
        LEFT JOIN (SELECT {key} AS k, cleaned_version, billable_user_count,
                          ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY {order}) AS rn
                   FROM ({rows}) r2 WHERE ping_created_at IS NOT NULL) pr ON pr.k = agg.k AND pr.rn = 1
    """


def _latest_attrs(stage: str) -> str:
    """Each staged instance's attributes (account, hostname…) from its latest staged row."""
    attrs = ", ".join(INSTANCE_ATTRS)
    order = "snapshot_month DESC, ping_created_at DESC NULLS LAST, subscription_id DESC"
    return f"""
        SELECT identity, {attrs} FROM (
            SELECT identity, {attrs}, ROW_NUMBER() OVER (PARTITION BY identity ORDER BY {order}) AS rn
            FROM {stage}) x
        WHERE rn = 1
    """


class Merger:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.distinct = "IS DISTINCT FROM" if self.pg else "IS NOT"

    def _run(self, sql: str) -> int:
        t = time.perf_counter()
        n = max(self.conn.exec_driver_sql(sql).rowcount, 0)
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

    def merge(self) -> Changes:
        stage_usage = STAGE_TABLES["usage_monthly"]
        ch = Changes()
        ch.accounts = self.upsert_simple("accounts", STAGE_TABLES["accounts"], ACCOUNT_FIELDS)
        ch.subscriptions = self.upsert_simple("subscriptions", STAGE_TABLES["subscriptions"], SUBSCRIPTION_FIELDS)

        # Instances that exist before this sync get their summaries from their full history after
        # the usage rows are in; new ones are complete from staging alone.
        max_before = self.conn.exec_driver_sql("SELECT COALESCE(MAX(id), 0) FROM instances").scalar_one()
        attrs = ", ".join(INSTANCE_ATTRS)
        summary = ", ".join(INSTANCE_SUMMARY)
        ch.instances = self._run(f"""
            INSERT INTO instances (identity, {attrs}, export_label, label, label_source, label_version, {summary})
            SELECT a.identity, {", ".join("a." + c for c in INSTANCE_ATTRS)}, s.export_label, s.export_label,
                   'export', 0, {", ".join("s." + c for c in INSTANCE_SUMMARY)}
            FROM ({_latest_attrs(stage_usage)}) a
            JOIN ({_summary(f"SELECT * FROM {stage_usage}", "identity")}) s ON s.k = a.identity
            WHERE NOT EXISTS (SELECT 1 FROM instances i WHERE i.identity = a.identity)
        """)

        usage_cols = ("snapshot_month", "instance_id", "subscription_id", *USAGE_FIELDS, "extra_metrics")
        select_cols = ", ".join(
            "i.id"
            if c == "instance_id"
            else ("CAST(s.extra_metrics AS json)" if self.pg and c == "extra_metrics" else f"s.{c}")
            for c in usage_cols
        )
        usage_fields = (*USAGE_FIELDS, "extra_metrics")
        sets = ", ".join(f"{f} = excluded.{f}" for f in usage_fields)
        ch.usage_rows = self._run(f"""
            INSERT INTO usage_monthly ({", ".join(usage_cols)})
            SELECT {select_cols} FROM {stage_usage} s JOIN instances i ON i.identity = s.identity WHERE true
            ON CONFLICT (snapshot_month, instance_id, subscription_id) DO UPDATE SET {sets}
            WHERE {self._guard("usage_monthly", usage_fields)}
        """)

        if max_before:
            ch.instances += self._refresh_existing(int(max_before), stage_usage)
        return ch

    def _refresh_existing(self, max_before: int, stage_usage: str) -> int:
        """Attributes from the export, summaries from history; the label follows the export only
        while nobody has set it (label_source = 'export'); a person's label is never touched."""
        touched = f"""
            SELECT i.id FROM instances i WHERE i.id <= {max_before}
            AND i.identity IN (SELECT identity FROM {stage_usage})
        """
        history = f"""
            SELECT instance_id, snapshot_month, ping_created_at, subscription_id, instance_type, cleaned_version,
                   billable_user_count
            FROM usage_monthly WHERE instance_id IN ({touched})
        """
        fields = (*INSTANCE_ATTRS, "export_label", *INSTANCE_SUMMARY)
        sets = ", ".join(f"{f} = n.{f}" for f in fields)
        return self._run(f"""
            UPDATE instances SET {sets},
                label = CASE WHEN instances.label_source = 'export' THEN n.export_label ELSE instances.label END,
                label_version = instances.label_version + CASE
                    WHEN instances.label_source = 'export' AND instances.label <> n.export_label THEN 1 ELSE 0 END
            FROM (
                SELECT i.id AS iid, {", ".join("a." + c for c in INSTANCE_ATTRS)}, h.export_label,
                       {", ".join("h." + c for c in INSTANCE_SUMMARY)}
                FROM instances i
                JOIN ({_latest_attrs(stage_usage)}) a ON a.identity = i.identity
                JOIN ({_summary(history, "instance_id")}) h ON h.k = i.id
                WHERE i.id <= {max_before}
            ) n
            WHERE instances.id = n.iid AND (
                {self._guard("instances", fields, "n")}
                OR (instances.label_source = 'export' AND instances.label <> n.export_label)
            )
        """)
