"""Stored scores: every account's figures per month, computed once per sync (workflows/scores.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, Date, Float, Index, String
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
    health_color: Mapped[str] = mapped_column(String(8))
    health_score: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # what portfolio views show (`to_json`)
    # Primary instances, pings, subscriptions (`detail_json`): read by alerts and the trend, not by Home.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_account_scores_month", "month"),)
