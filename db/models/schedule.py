"""What the clock's scheduled sync remembers about each source: the fingerprint of its last successful load
(an unchanged source is skipped) and the failure already reported (reported once, not at every tick)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base


class SyncSource(Base):
    __tablename__ = "sync_sources"

    # sha256 of the source text as configured: a URL's password never appears in this table.
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text)  # the folder, or the URL without its password
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # of the last successful sync
    succeeded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The failure last reported to PRODUCT_ANALYTICS_CHANNEL (fingerprint of the source, or of the error when
    # the source could not be read): the same failure again is logged, not posted again.
    failure_key: Mapped[str | None] = mapped_column(String(64))
    failure_reported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
