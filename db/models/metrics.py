"""Metrics Dictionary definitions (GitLab Service Ping) and the record of each import."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow

METRIC_STATUSES: tuple[str, ...] = ("active", "removed", "broken")


class MetricDefinition(Base):
    """One metric of the dictionary, unique by key path (the latest import's version of it)."""

    __tablename__ = "metric_definitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_path: Mapped[str] = mapped_column(String(512), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    product_group: Mapped[str | None] = mapped_column(String(128), index=True)
    product_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The dictionary allows one time frame or a list; both are kept as a list ("7d", "28d", "all", "none").
    time_frames: Mapped[list[str]] = mapped_column(JSON, default=list)
    data_source: Mapped[str | None] = mapped_column(String(32))
    data_category: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), index=True)  # active | removed | broken
    tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    performance_indicator_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # performance_indicator_type contains customer_health_score: the metric feeds health scoring.
    is_health_metric: Mapped[bool] = mapped_column(Boolean, default=False)
    milestone: Mapped[str | None] = mapped_column(String(32))
    milestone_removed: Mapped[str | None] = mapped_column(String(32))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)  # internal event names
    value_type: Mapped[str | None] = mapped_column(String(16))
    instrumentation_class: Mapped[str | None] = mapped_column(String(255))
    source_path: Mapped[str] = mapped_column(Text)  # relative to the imported folder
    # Hash of the stored fields: a re-import compares it to know whether anything changed.
    content_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    @property
    def time_frame(self) -> str:
        """The time frame(s) as shown to people: "28d", or "28d, 7d" for a list."""
        return ", ".join(self.time_frames or [])


class MetricImport(Base):
    """One run of `metrics import`; the latest row's hash tells searchers whether their index is stale."""

    __tablename__ = "metric_imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    files: Mapped[int] = mapped_column(Integer, default=0)
    definitions: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    problems: Mapped[int] = mapped_column(Integer, default=0)
    # Hash over every stored definition's (key_path, content_hash) after this import.
    dictionary_hash: Mapped[str] = mapped_column(String(64))
