"""`/usage metric TEXT-or-key_path`: a Metrics Dictionary definition's card, found by key path or in plain words."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.features.usage.command import SlashContext


from sqlalchemy.orm import Session

from bot.features.metric.blocks import render_lookup
from bot.features.usage.blocks import Answer
from workflows.metric_card import lookup


def metric_answer(session: Session, text: str) -> Answer:
    """The answer for Slack and for `usagebot try` alike."""
    return render_lookup(lookup(session, text))


def show_metric(ctx: SlashContext, text: str) -> None:
    """Slack: after the guard, the card as an ephemeral answer."""
    with ctx.deps.sessions() as session:
        answer = metric_answer(session, text)
    ctx.show(answer)
