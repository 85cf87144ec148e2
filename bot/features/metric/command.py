"""`/usage metric TEXT-or-key_path`: a Metrics Dictionary definition's card, found by key path or in plain words."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.features.metric.blocks import render_lookup
from bot.features.usage.blocks import Answer
from bot.listener import UsageContext
from workflows.metric_card import lookup


def metric_answer(session: Session, text: str) -> Answer:
    """The answer for Slack and for `usagebot try` alike."""
    return render_lookup(lookup(session, text))


def show_metric(ctx: UsageContext, text: str) -> None:
    """Slack: after the guard, the card as an ephemeral answer."""
    ctx.show(metric_answer(ctx.session, text))
