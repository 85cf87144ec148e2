"""Digest deliveries (exactly once per TAM and month), the clock's lease and a Slack user cache."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class DigestDelivery(Base):
    """One TAM's digest for one month.

    The row is written (claimed) before anything reaches Slack and confirmed after each part, so
    a crashed or concurrent run can tell what was sent. The unique (tam_email, month) pair is what
    makes two runs agree on who sends; `claimed_until` lets a later run take over a dead one.
    """

    __tablename__ = "digest_deliveries"
    __table_args__ = (UniqueConstraint("tam_email", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tam_email: Mapped[str] = mapped_column(String(255))  # lower-cased
    month: Mapped[str] = mapped_column(String(7))  # "YYYY-MM"
    digest_id: Mapped[str] = mapped_column(String(64), unique=True)  # carried in each message's metadata
    status: Mapped[str] = mapped_column(String(16), default="sending")  # sending | sent
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    # The composed messages, frozen at claim time so a resumed run sends exactly the missing ones.
    parts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # Part number (as text, JSON keys) -> ts of the message that carried it.
    sent_ts: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    instance_count: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DigestRun(Base):
    """One pass of the digest, for the summary line and the CLI."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    month: Mapped[str] = mapped_column(String(7), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    tams_messaged: Mapped[int] = mapped_column(Integer, default=0)
    instances_listed: Mapped[int] = mapped_column(Integer, default=0)
    tams_not_found: Mapped[list[str]] = mapped_column(JSON, default=list)
    accounts_without_tam: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[list[str]] = mapped_column(JSON, default=list)
    summary_ts: Mapped[str | None] = mapped_column(String(32))


class SlackUserCache(Base):
    """users.lookupByEmail answers (found or not), reused until `expires_at`."""

    __tablename__ = "slack_user_cache"

    email: Mapped[str] = mapped_column(String(255), primary_key=True)  # lower-cased
    user_id: Mapped[str | None] = mapped_column(String(32))  # None: not found in Slack
    tz: Mapped[str | None] = mapped_column(String(64))  # the profile's time zone (IANA name), when Slack gave one
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SchedulerLease(Base):
    """A named lease with expiry: only its holder runs the clock's jobs (works on SQLite and PostgreSQL)."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
