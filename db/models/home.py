"""Who has opened the bot's Home tab, and what they last looked at: whom to refresh after syncs and relabels."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, utcnow


class HomeViewer(Base):
    __tablename__ = "home_viewers"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)  # Slack user id
    email: Mapped[str | None] = mapped_column(String(255), index=True)  # lower-cased, from users.info
    scope: Mapped[str] = mapped_column(String(8), default="mine")  # mine | team | all
    page: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
