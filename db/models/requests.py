"""Metric requests, the people behind them, and the generic GitLab filing outbox.

The outbox (`GitLabFiling`) is shared: metric requests and data-quality issues both write the
issue they want filed here, keyed by an idempotency key, BEFORE anyone talks to GitLab. A filing
is "pending" until GitLab answered and the issue is recorded; `workflows/outbox.py` does the rest.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from db.models.base import Base, utcnow

# GitLabFiling.status
FILING_STATUSES: tuple[str, ...] = ("pending", "filed")

# MetricRequest.status
#   draft: the modal was submitted, candidates shown, nothing decided yet
#   answered: the person picked an existing metric ("This is it")
#   joined: the person was added to an earlier open request ("Add me to it")
#   pending: an issue is to be filed (in the outbox); filed: the issue exists
REQUEST_STATUSES: tuple[str, ...] = ("draft", "answered", "joined", "pending", "filed")

# The kinds of count the modal offers (value -> label).
COUNT_KINDS: dict[str, str] = {
    "total_events": "Total events",
    "unique_users": "Unique users",
    "per_project": "Per project",
    "per_namespace": "Per namespace",
    "by_tier": "By tier",
}


class GitLabFiling(Base):
    """One GitLab issue that must be filed exactly once (the outbox row).

    `idempotency_key` is unique and is written into the issue as a hidden marker, so a retry after a
    crash between "GitLab created it" and "we recorded it" finds the issue instead of filing twice.
    `on_filed` names a follow-up registered per kind (e.g. DM the requester the link); it runs after
    the issue is recorded and is retried on its own until `followed_up_at` is set.
    """

    __tablename__ = "gitlab_filings"
    __table_args__ = (Index("ix_gitlab_filings_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)  # "metric_request", "data_quality", …
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    project: Mapped[str] = mapped_column(String(255))  # GitLab project path
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)  # already contains the marker
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    on_filed: Mapped[str | None] = mapped_column(String(64))
    on_filed_payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # one of FILING_STATUSES
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A worker holds the row until this time: two processes never file the same row at once.
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    issue_iid: Mapped[int | None] = mapped_column(Integer)
    issue_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    filed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    followed_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    follow_up_error: Mapped[str | None] = mapped_column(Text)


class MetricRequest(Base):
    """One guided metric request, from the modal to an answer, a join, or a filed issue."""

    __tablename__ = "metric_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # From the submitted view: a double submit of the same view finds this row.
    key: Mapped[str] = mapped_column(String(128), unique=True)
    requester_id: Mapped[str] = mapped_column(String(64), index=True)
    requester_name: Mapped[str | None] = mapped_column(String(255))
    what: Mapped[str] = mapped_column(Text)
    # Lower-cased, whitespace-folded `what`, compared with rapidfuzz to find open duplicates.
    normalized: Mapped[str] = mapped_column(Text)
    product_group: Mapped[str | None] = mapped_column(String(128))
    count_kind: Mapped[str | None] = mapped_column(String(32))  # a key of COUNT_KINDS
    why: Mapped[str | None] = mapped_column(Text)
    account: Mapped[str | None] = mapped_column(String(255))
    # Where the conversation happened, to answer there (the DM with the bot if unknown).
    channel_id: Mapped[str | None] = mapped_column(String(64))
    # The metrics shown: [{"key_path", "description", "time_frame", "tiers", "status", "health"}]
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)  # one of REQUEST_STATUSES
    answered_key_path: Mapped[str | None] = mapped_column(String(512))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("metric_requests.id", ondelete="SET NULL"))
    duplicate_issue_url: Mapped[str | None] = mapped_column(Text)
    filing_key: Mapped[str | None] = mapped_column(String(128))
    issue_iid: Mapped[int | None] = mapped_column(Integer)
    issue_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    requesters: Mapped[list[MetricRequestRequester]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="MetricRequestRequester.id"
    )


class MetricRequestRequester(Base):
    """Someone who wants a request: its author, and everyone who chose "Add me to it"."""

    __tablename__ = "metric_request_requesters"
    __table_args__ = (UniqueConstraint("request_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("metric_requests.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(255))
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # "+1" note on the GitLab issue: written once the issue exists.
    noted_on_issue: Mapped[bool] = mapped_column(Boolean, default=False)

    request: Mapped[MetricRequest] = relationship(back_populates="requesters")
