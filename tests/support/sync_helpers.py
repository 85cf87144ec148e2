"""Helpers shared by the sync and demo tests: full table dumps that don't depend on surrogate ids."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Any

from sqlalchemy import text

from db.session import get_engine

FIXTURE = Path(__file__).parent.parent / "fixtures" / "export_small"


def copy_fixture(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest)
    return dest


def read_csv(path: Path) -> list[list[str]]:
    """Every record of a CSV file, the header first."""
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write_csv(path: Path, table: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(table)


def edit_usage(folder: Path, edit: dict[tuple[int, str], str]) -> None:
    """Set usage_monthly.csv values by (data row index, column)."""
    table = read_csv(folder / "usage_monthly.csv")
    for (i, col), value in edit.items():
        table[1 + i][table[0].index(col)] = value
    write_csv(folder / "usage_monthly.csv", table)


def _rows(conn: Any, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(text(sql)).all()]


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every user-visible row of the synced tables, in key order, instance ids replaced by identities."""
    with get_engine(url).connect() as conn:
        return {
            "accounts": _rows(conn, "SELECT * FROM accounts ORDER BY id"),
            "subscriptions": _rows(conn, "SELECT * FROM subscriptions ORDER BY id"),
            "instances": _rows(
                conn,
                "SELECT identity, account_id, delivery_type, deployment_type, installation_id, uuid, hostname,"
                " namespace_id, namespace_name, creation_date, export_label, label, label_source, label_set_by,"
                " label_set_at, label_version, first_seen_month, last_seen_month, last_ping_at, last_version,"
                " last_billable_users FROM instances ORDER BY identity",
            ),
            "usage_monthly": _rows(
                conn,
                "SELECT i.identity, u.snapshot_month, u.subscription_id, u.account_id, u.subscription_version_id,"
                " u.delivery_type, u.deployment_type, u.ping_created_at, u.cleaned_version, u.license_md5,"
                " u.license_mapped, u.instance_type, u.included_in_health, u.license_user_count,"
                " u.license_user_count_source, u.billable_user_count, u.active_user_count,"
                " u.max_historical_user_count, u.last_activity_28_days_user,"
                " u.action_monthly_active_users_project_repo_28_days_user, u.ci_builds_28_days_event_post_16_9,"
                " u.ci_builds_28_days_event, u.deployments_28_days_user, u.sast_scans_28_days_event,"
                " CAST(u.extra_metrics AS TEXT), CAST(l.names AS TEXT)"
                " FROM usage_monthly u JOIN instances i ON i.id = u.instance_id"
                " LEFT JOIN metric_layouts l ON l.id = u.metric_layout_id"
                " ORDER BY i.identity, u.snapshot_month, u.subscription_id",
            ),
            "label_changes": _rows(conn, "SELECT * FROM label_changes ORDER BY id"),
        }


def count(url: str, table: str) -> int:
    with get_engine(url).connect() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
