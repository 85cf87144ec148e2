"""Data-quality reports, health-drop alert records and alert mutes (issue "Data-quality triage")."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow

# Where a reporter thinks the problem lives (modal radio buttons).
SCOPES: tuple[str, ...] = ("upstream", "this_view", "unsure")


class DataIssue(Base):
    """One "Report a data issue" submission: the facts shown, the triage thread and the GitLab issue.

    `key` is the idempotency key (from the modal's view id): a double submit finds the same row, and
    the key is written into the GitLab issue as a marker so a retry after a lost answer files nothing twice.
    """

    __tablename__ = "data_issues"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    # No foreign keys: a report must survive a sync that reshapes accounts or instances.
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    account_name: Mapped[str] = mapped_column(String(255))
    instance_id: Mapped[int | None] = mapped_column(Integer)
    instance_name: Mapped[str | None] = mapped_column(String(512))
    metric: Mapped[str | None] = mapped_column(String(255))
    what: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(16))  # one of SCOPES
    reporter_id: Mapped[str] = mapped_column(String(64))
    reporter_name: Mapped[str | None] = mapped_column(String(255))
    # The values the bot held when the report was made (metric value, billable users, licenses, month).
    facts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    as_of_month: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The triage thread in #cs-product-analytics (empty until posted).
    channel_id: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(64))
    permalink: Mapped[str | None] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # GitLab: "none" (not upstream), "pending" (to be filed), "filed".
    gitlab_status: Mapped[str] = mapped_column(String(16), default="none")
    issue_iid: Mapped[int | None] = mapped_column(Integer)
    issue_url: Mapped[str | None] = mapped_column(Text)
    issue_linked: Mapped[bool] = mapped_column(Boolean, default=False)  # link posted in the thread
    last_error: Mapped[str | None] = mapped_column(Text)


class AlertRecord(Base):
    """One alert, claimed before it is sent: the unique key makes a re-run of a sync repeat nothing."""

    __tablename__ = "alert_records"
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "measure", "month"),
        Index("ix_alert_records_status_tam", "status", "tam_email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # color_drop | utilization_drop | low_utilization | stopped_reporting
    measure: Mapped[str] = mapped_column(String(64))  # measure key, "overall", or the instance id
    month: Mapped[date] = mapped_column(Date)
    tam_email: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # pending (recorded, not yet delivered) | sending | sent | no_tam | tam_not_found
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Set while one process delivers the record, so two senders never both post it.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    slack_channel: Mapped[str | None] = mapped_column(String(64))
    slack_ts: Mapped[str | None] = mapped_column(String(64))


class AlertMute(Base):
    """An account whose alerts are muted (by its TAM, from an alert)."""

    __tablename__ = "alert_mutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64), unique=True)
    muted_by: Mapped[str] = mapped_column(String(64))
    muted_by_name: Mapped[str | None] = mapped_column(String(255))
    muted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
