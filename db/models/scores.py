"""Stored scores: every account's figures per month, computed once per sync (workflows/scores.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base


class AccountScore(Base):
    """One account and month, as `scoring.stored.summarize` keeps it."""

    __tablename__ = "account_scores"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    # Which rules content the row was computed with (`scoring.stored.rules_fingerprint`): other rows are stale.
    fingerprint: Mapped[str] = mapped_column(String(32))
    # Digest of everything the row was computed from (`scoring.score_inputs`): a rescore after a sync skips
    # the rows whose inputs are unchanged. None on rows written before it was kept: scored again.
    inputs: Mapped[str | None] = mapped_column(String(32))
    # The narrow columns (`scoring.stored.columns`): Home sorts, counts and pages on them, alerts compare two
    # months on them, so only the rows shown or compared further have `summary` / `detail` decoded.
    health_color: Mapped[str] = mapped_column(String(8))
    health_score: Mapped[float | None] = mapped_column(Float)
    utilization: Mapped[float | None] = mapped_column(Float)
    unknown_instances: Mapped[int | None] = mapped_column(Integer)
    purchase_intent: Mapped[bool | None] = mapped_column(Boolean)
    scm_color: Mapped[str | None] = mapped_column(String(8))
    ci_color: Mapped[str | None] = mapped_column(String(8))
    cd_color: Mapped[str | None] = mapped_column(String(8))
    security_color: Mapped[str | None] = mapped_column(String(8))
    engagement_color: Mapped[str | None] = mapped_column(String(8))
    license_value: Mapped[float | None] = mapped_column(Float)
    age_months: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool | None] = mapped_column(Boolean)
    pinged: Mapped[str | None] = mapped_column(Text)
    # What `/usage mine|team` filter on besides colours (migration 0018, stored format 3).
    license_color: Mapped[str | None] = mapped_column(String(8))
    tiers: Mapped[str | None] = mapped_column(Text)  # the month's product tiers, a JSON list
    flag_kinds: Mapped[str | None] = mapped_column(Text)  # the kinds of the account's flags, a JSON list
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # what portfolio views show (`to_json`)
    # Primary instances, pings, subscriptions (`detail_json`): read by alerts and the trend, not by Home.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_account_scores_month", "month"),
        # Home's, `/usage team`'s and alerts' narrow reads answered from the index alone on PostgreSQL
        # (migrations 0016, 0018).
        Index(
            "ix_account_scores_narrow",
            "month",
            "fingerprint",
            postgresql_include=[
                "account_id",
                "health_color",
                "health_score",
                "utilization",
                "unknown_instances",
                "purchase_intent",
                "scm_color",
                "ci_color",
                "cd_color",
                "security_color",
                "engagement_color",
                "license_value",
                "age_months",
                "active",
                "pinged",
                "license_color",
                "tiers",
                "flag_kinds",
            ],
        ),
    )
