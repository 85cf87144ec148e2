"""Accounts, subscriptions, instances, monthly usage, label history and sync runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow
from scoring.model import instance_display_name

# Metric columns the health rules read (docs/scoring.md, both rule sets). They get typed columns;
# any other numeric column of the export lands in `UsageMonthly.extra_metrics`, its name in a `MetricLayout`.
SCORED_METRIC_COLUMNS: tuple[str, ...] = (
    "last_activity_28_days_user",
    "action_monthly_active_users_project_repo_28_days_user",
    "ci_builds_28_days_event_post_16_9",
    "ci_builds_28_days_event",
    "ci_pipelines_28_days_user",
    "ci_internal_pipelines_28_days_event",
    "deployments_28_days_user",
    "deployments_28_days_event",
    "successful_deployments_28_days_event",
    "failed_deployments_28_days_event",
    "user_unique_users_all_secure_scanners_28_days_user",
    "sast_scans_28_days_event",
    "dast_scans_28_days_event",
    "dependency_scanning_scans_28_days_event",
    "container_scanning_scans_28_days_event",
    "secret_detection_scans_28_days_event",
    "coverage_fuzzing_scans_28_days_event",
    "api_fuzzing_scans_28_days_event",
)

LABELS: tuple[str, ...] = ("Production", "Non-Production", "Obsolete", "Geo Secondary Node", "Unknown")


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # dim_crm_account_id
    name: Mapped[str] = mapped_column(String(255))
    # Lower-cased, accent- and punctuation-free name: what account lookup compares.
    name_key: Mapped[str] = mapped_column(String(255), index=True)
    customer_since_date: Mapped[date | None] = mapped_column(Date)
    tam_name: Mapped[str | None] = mapped_column(String(255))
    tam_email: Mapped[str | None] = mapped_column(String(255), index=True)
    sales_segment: Mapped[str | None] = mapped_column(String(64))


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # dim_subscription_id_original
    name: Mapped[str] = mapped_column(String(255))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    product_tier_name: Mapped[str] = mapped_column(String(128))
    delivery_type: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    licensed_seats: Mapped[int] = mapped_column(Integer)
    arr: Mapped[float | None] = mapped_column(Float)


class Instance(Base):
    """A self-managed installation or a GitLab.com / Dedicated namespace."""

    __tablename__ = "instances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "sm:<installation id>", "sm:<uuid>|<hostname>" or "saas:<namespace id>" (docs/data-contract.md).
    identity: Mapped[str] = mapped_column(String(512), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    delivery_type: Mapped[str] = mapped_column(String(32))
    deployment_type: Mapped[str] = mapped_column(String(32))
    installation_id: Mapped[str | None] = mapped_column(String(128))
    uuid: Mapped[str | None] = mapped_column(String(128))
    hostname: Mapped[str | None] = mapped_column(String(255))
    namespace_id: Mapped[str | None] = mapped_column(String(128))
    namespace_name: Mapped[str | None] = mapped_column(String(255))
    creation_date: Mapped[date | None] = mapped_column(Date)
    # The export's instance_type on the instance's latest row ("Unknown" when empty).
    export_label: Mapped[str] = mapped_column(String(32), default="Unknown")
    # The label in force: the export's until a person relabels, then the person's forever.
    label: Mapped[str] = mapped_column(String(32), default="Unknown", index=True)
    label_source: Mapped[str] = mapped_column(String(16), default="export")  # "export" | "person"
    label_set_by: Mapped[str | None] = mapped_column(String(255))
    label_set_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Bumped on every change: relabel clicks compare-and-set on it.
    label_version: Mapped[int] = mapped_column(Integer, default=0)
    # Summaries the sync refreshes, so lists of instances need no scan of usage rows.
    first_seen_month: Mapped[date | None] = mapped_column(Date)
    last_seen_month: Mapped[date | None] = mapped_column(Date)
    last_ping_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_version: Mapped[str | None] = mapped_column(String(32))
    last_billable_users: Mapped[int | None] = mapped_column(Integer)

    @property
    def display_name(self) -> str:
        return instance_display_name(self.hostname, self.namespace_name, self.namespace_id, self.identity)


class UsageMonthly(Base):
    """One instance × subscription × month: the month's last ping (or none)."""

    __tablename__ = "usage_monthly"
    __table_args__ = (
        UniqueConstraint("snapshot_month", "instance_id", "subscription_id"),
        Index("ix_usage_monthly_instance_month", "instance_id", "snapshot_month"),
        Index("ix_usage_monthly_account_month", "account_id", "snapshot_month"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    snapshot_month: Mapped[date] = mapped_column(Date)
    # References without foreign keys: the sync checks them set-based before writing (one check for
    # a million rows instead of three triggers per row); nothing else writes usage rows.
    instance_id: Mapped[int] = mapped_column(Integer)
    account_id: Mapped[str] = mapped_column(String(64))
    subscription_id: Mapped[str] = mapped_column(String(64))
    subscription_version_id: Mapped[str | None] = mapped_column(String(64))
    delivery_type: Mapped[str] = mapped_column(String(32))
    deployment_type: Mapped[str] = mapped_column(String(32))
    ping_created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cleaned_version: Mapped[str | None] = mapped_column(String(32))
    license_md5: Mapped[str | None] = mapped_column(String(64))
    license_mapped: Mapped[bool | None] = mapped_column(Boolean)
    instance_type: Mapped[str | None] = mapped_column(String(32))
    included_in_health: Mapped[str | None] = mapped_column(String(64))
    license_user_count: Mapped[int | None] = mapped_column(Integer)
    license_user_count_source: Mapped[str | None] = mapped_column(String(32))
    billable_user_count: Mapped[int | None] = mapped_column(Integer)
    active_user_count: Mapped[int | None] = mapped_column(Integer)
    max_historical_user_count: Mapped[int | None] = mapped_column(Integer)

    last_activity_28_days_user: Mapped[float | None] = mapped_column(Float)
    action_monthly_active_users_project_repo_28_days_user: Mapped[float | None] = mapped_column(Float)
    ci_builds_28_days_event_post_16_9: Mapped[float | None] = mapped_column(Float)
    ci_builds_28_days_event: Mapped[float | None] = mapped_column(Float)
    ci_pipelines_28_days_user: Mapped[float | None] = mapped_column(Float)
    ci_internal_pipelines_28_days_event: Mapped[float | None] = mapped_column(Float)
    deployments_28_days_user: Mapped[float | None] = mapped_column(Float)
    deployments_28_days_event: Mapped[float | None] = mapped_column(Float)
    successful_deployments_28_days_event: Mapped[float | None] = mapped_column(Float)
    failed_deployments_28_days_event: Mapped[float | None] = mapped_column(Float)
    user_unique_users_all_secure_scanners_28_days_user: Mapped[float | None] = mapped_column(Float)
    sast_scans_28_days_event: Mapped[float | None] = mapped_column(Float)
    dast_scans_28_days_event: Mapped[float | None] = mapped_column(Float)
    dependency_scanning_scans_28_days_event: Mapped[float | None] = mapped_column(Float)
    container_scanning_scans_28_days_event: Mapped[float | None] = mapped_column(Float)
    secret_detection_scans_28_days_event: Mapped[float | None] = mapped_column(Float)
    coverage_fuzzing_scans_28_days_event: Mapped[float | None] = mapped_column(Float)
    api_fuzzing_scans_28_days_event: Mapped[float | None] = mapped_column(Float)

    # Every other metric column of the export: a list of values (null = not reported) in the order of the
    # names of the row's layout. The names are kept once per export layout instead of once per row, where
    # they were two thirds of a row's bytes. A JSON object of name: value (absent = not reported) is
    # read too: rows stored before layouts, until the next sync rewrites them.
    extra_metrics: Mapped[Any] = mapped_column(JSON, default=list)
    metric_layout_id: Mapped[int | None] = mapped_column(Integer)

    def metrics(self, layout: Sequence[str] = ()) -> dict[str, float | None]:
        """All metrics of the row by warehouse name, typed and extra alike (`layout`: its layout's names)."""
        out: dict[str, float | None] = {name: getattr(self, name) for name in SCORED_METRIC_COLUMNS}
        out.update(extra_metric_values(self.extra_metrics, layout))
        return out


class MetricLayout(Base):
    """The names of the extra metric columns of an export, in the order usage rows list their values."""

    __tablename__ = "metric_layouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # sha256 of `names` as JSON: names may be long and many, too long for a unique index of their own.
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[list[str]] = mapped_column(JSON)


def extra_metric_values(stored: Any, names: Sequence[str]) -> dict[str, float | None]:
    """A row's extra metrics by name: its values (a list) paired with its layout's `names`, those reported only."""
    if isinstance(stored, dict):
        return {k: v for k, v in stored.items() if v is not None}
    if not stored:
        return {}
    return {n: v for n, v in zip(names, stored, strict=False) if v is not None}


class LabelChange(Base):
    """Every change of an instance's label, by a person or undone: the truthful history."""

    __tablename__ = "label_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    from_label: Mapped[str] = mapped_column(String(32))
    to_label: Mapped[str] = mapped_column(String(32))
    changed_by: Mapped[str] = mapped_column(String(255))  # Slack user id (or "cli:<user>")
    changed_by_name: Mapped[str | None] = mapped_column(String(255))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    origin: Mapped[str] = mapped_column(String(32), default="slack")  # digest, usage, undo, cli…
    message_ref: Mapped[str | None] = mapped_column(String(255))  # "channel:ts" of the clicked message
    note: Mapped[str | None] = mapped_column(Text)


class SyncRun(Base):
    __tablename__ = "sync_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running|succeeded|rejected|failed
    accounts: Mapped[int] = mapped_column(Integer, default=0)
    subscriptions: Mapped[int] = mapped_column(Integer, default=0)
    usage_rows: Mapped[int] = mapped_column(Integer, default=0)
    instances: Mapped[int] = mapped_column(Integer, default=0)
    rows_changed: Mapped[int] = mapped_column(Integer, default=0)
    as_of_month: Mapped[date | None] = mapped_column(Date)
    problems: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    # The metric columns the export's usage table had (a successful sync); None for syncs before this was kept.
    metric_columns: Mapped[list[str] | None] = mapped_column(JSON)
