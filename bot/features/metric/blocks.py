"""A Metrics Dictionary definition as Slack blocks: the one card `/usage metric …` and the metric-request
flow both show (pure; every value from the dictionary is escaped for mrkdwn)."""

from __future__ import annotations

from typing import Any

from bot.blocks.format import context, escape, section
from bot.blocks.limits import clip, fit_to_limits
from bot.features.usage.blocks import Answer, message
from workflows.metric_card import Lookup, MetricCard

Block = dict[str, Any]
DESCRIPTION_MAX = 800
TIME_FRAMES = {"28d": "last 28 days", "7d": "last 7 days", "all": "all time", "none": "a current value (no window)"}
STATUS_WORDS = {
    "active": "active",
    "removed": "removed (no longer reported)",
    "broken": "broken (reported values are wrong)",
}


def time_frames_text(frames: list[str]) -> str:
    return ", ".join(TIME_FRAMES.get(f, f) for f in frames) or "not stated"


def card_text(card: MetricCard, *, description_max: int = DESCRIPTION_MAX) -> str:
    """The card as one mrkdwn text: key path, description, then its facts."""
    status = STATUS_WORDS.get(card.status, card.status or "not stated")
    if card.status == "removed" and card.milestone_removed:
        status += f" in {card.milestone_removed}"
    lines = [
        f"*`{escape(card.key_path)}`*",
        escape(clip(card.description or "(no description)", description_max)),
        f"_time frames:_ {escape(time_frames_text(card.time_frames))} · "
        f"_tiers:_ {escape(', '.join(card.tiers) or 'not stated')} · _status:_ {escape(status)}",
        f"_product group:_ {escape(card.product_group or 'not stated')} · "
        f"_data source:_ {escape(card.source_words)} · _reported in:_ {escape(card.reported_in)}",
    ]
    if card.is_health_metric:
        lines.append(":heart: used in customer health scoring")
    lines.append(f"<{card.url}|Its page on metrics.gitlab.com>")
    return "\n".join(lines)


def card_blocks(card: MetricCard, **extra: Any) -> list[Block]:
    return [section(card_text(card), **extra)]


def render_lookup(found: Lookup) -> Answer:
    """`/usage metric TEXT`: the card, the other close metrics, or a plain "no metric measures this"."""
    shown = escape(clip(found.query, 120))
    if not found.query:
        return message(
            "Tell me which metric: `/usage metric counts.merge_requests`, or in your words, "
            "`/usage metric how many people use epics`."
        )
    if found.empty_dictionary:
        return message(":warning: No Metrics Dictionary is loaded yet, so I can't look metrics up.")
    if found.card is None:
        return message(
            f"Nothing in the Metrics Dictionary measures “{shown}”, as far as I can tell. Try other words or a "
            "key path, or ask Product Analytics for it with `/usage request-metric`."
        )
    blocks: list[Block] = []
    if not found.exact:
        blocks.append(context(f"Best match for “{shown}”"))
    blocks += card_blocks(found.card)
    if found.others:
        others = "\n".join(f"• `{escape(c.key_path)}`: {escape(clip(c.description, 140))}" for c in found.others)
        blocks.append(context(f"Also close:\n{others}"))
    return Answer(text=f"Metric {escape(clip(found.card.key_path, 200))}", blocks=fit_to_limits(blocks), ok=True)
