"""Small pure formatters shared by every renderer: colours, people's numbers, sparklines, mrkdwn safety,
and a Block Kit -> plain text conversion for the terminal (`usagebot try`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from bot.blocks.limits import (
    MAX_BUTTON_TEXT,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_TEXT,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_ID,
    MAX_SECTION_TEXT,
    clip,
)
from scoring.trends import sparkline as _sparkline
from workflows.escaping import mrkdwn
from workflows.wording import number, pct, plural, seats_in_use

__all__ = ["number", "pct", "plural"]  # re-exported: renderers take every people's number from here

MAX_OPTION_VALUE = 150
_EMOJI: dict[str, str] = {"Red": "🔴", "Yellow": "🟡", "Green": "🟢", "No data": "⚪"}
# Slack shortcodes the bot writes, as the Unicode a terminal shows (`usagebot try`, CLI previews).
SHORTCODES: dict[str, str] = {
    "warning": "⚠️",
    "lock": "🔒",
    "white_check_mark": "✅",
    "hourglass_flowing_sand": "⏳",
    "triangular_flag_on_post": "🚩",
    "bar_chart": "📊",
    "zzz": "💤",
    "tada": "🎉",
    "straight_ruler": "📏",
    "small_red_triangle_down": "🔻",
    "satellite_antenna": "📡",
    "raised_hands": "🙌",
    "office": "🏢",
    "no_bell": "🔕",
    "mag": "🔍",
    "link": "🔗",
    "information_source": "ℹ️",
    "heart": "❤️",
    "grey_question": "❔",
    "construction": "🚧",
    "chart_with_downwards_trend": "📉",
    "chart_with_upwards_trend": "📈",
    "x": "❌",
    "bell": "🔔",
    "memo": "📝",
    "wave": "👋",
    "label": "🏷️",
    "arrows_counterclockwise": "🔄",
    "robot_face": "🤖",
    "moneybag": "💰",
    "calendar": "📅",
    "clock9": "🕘",
}
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")


def unicode_emoji(text: str) -> str:
    """Slack's :shortcodes: as Unicode for a terminal; unknown ones are left as they are."""
    return _SHORTCODE.sub(lambda m: SHORTCODES.get(m.group(1), m.group(0)), text)


def color_text(color: str | None) -> str:
    """Colour as emoji AND word, never colour alone: '🔴 Red', '⚪ No data', 'N/A'."""
    if not color:
        return "N/A"
    emoji = _EMOJI.get(color)
    return f"{emoji} {color}" if emoji else color


# The one escaping rule for Slack mrkdwn (Slack's own: &, <, >), under the name renderers use.
escape = mrkdwn


def seats_text(billable: int | None, seats: int, utilization: float | None = None) -> str:
    """Seats in use, as every view says it: '84 of 200 seats (42%)'."""
    if utilization is None and billable is not None and seats > 0:
        utilization = billable / seats
    return seats_in_use(billable, seats, utilization)


def sparkline(values: Sequence[float | None], top: float = 1.0) -> str:
    """▁▂▃▄▅▆▇█ on a fixed 0..`top` scale (1.0 for ratios, 100 for scores); '·' = no data that month."""
    return _sparkline(values, top)


def ym(d: date | None) -> str:
    return d.strftime("%Y-%m") if d else "n/a"


def data_as_of(as_of: date | None, *, bold: bool = False) -> str:
    """'data as of 2026-10' (the month in bold for mrkdwn), or that nothing is loaded yet (never 'data as of
    no data loaded yet')."""
    if as_of is None:
        return "no data loaded yet (CS Operations runs `usagebot sync`)"
    return f"data as of *{ym(as_of)}*" if bold else f"data as of {ym(as_of)}"


def day(ts: datetime | date | None) -> str:
    return ts.strftime("%Y-%m-%d") if ts else "never"


# ------------------------------------------------------------------------------ Block Kit builders


# The one set of Block Kit primitives: every feature's blocks.py builds with these (texts, values and
# ids clipped to Slack's limits here, so no feature repeats it).


def plain_text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def option(text: str, value: str) -> dict[str, Any]:
    """One option of a select menu (Slack: text up to 75 characters, value up to 150)."""
    return {"text": plain_text(clip(text, MAX_BUTTON_TEXT)), "value": value[:MAX_OPTION_VALUE]}


def section(text: str, block_id: str | None = None, **extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, MAX_SECTION_TEXT)}}
    if block_id:
        block["block_id"] = block_id[:MAX_ID]
    return {**block, **extra}


def fields_section(fields: Sequence[str]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": clip(f, MAX_FIELD_TEXT)} for f in fields]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain_text(clip(text, MAX_HEADER_TEXT))}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(t, MAX_CONTEXT_TEXT)} for t in texts]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": plain_text(clip(text, MAX_BUTTON_TEXT)),
        "action_id": action_id[:MAX_ID],
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        b["style"] = style
    return b


def confirm_dialog(title: str, text: str, confirm: str, deny: str) -> dict[str, Any]:
    """The "are you sure?" a button can ask before it is sent."""
    return {
        "title": plain_text(title),
        "text": {"type": "mrkdwn", "text": text},
        "confirm": plain_text(confirm),
        "deny": plain_text(deny),
    }


def actions(elements: Sequence[dict[str, Any]], block_id: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {"type": "actions", "elements": list(elements)}
    if block_id:
        b["block_id"] = block_id
    return b


# ------------------------------------------------------------------------------ terminal text

_LINK = re.compile(r"<([^|<>]+)\|([^<>]+)>")


def _plain(mrkdwn: str) -> str:
    text = _LINK.sub(r"\2 (\1)", mrkdwn)
    text = re.sub(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<![\w_])_([^_\n]+)_(?![\w_])", r"\1", text)
    text = text.replace("`", "")
    text = unicode_emoji(text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def blocks_to_text(blocks: Sequence[dict[str, Any]], fallback: str = "") -> str:
    """A readable terminal rendering of Block Kit: the same answer `usagebot try` prints."""
    out: list[str] = []
    for b in blocks:
        kind = b.get("type")
        if kind == "header":
            title = b["text"]["text"]
            out += [title, "=" * min(len(title), 60)]
        elif kind == "section":
            if b.get("text"):
                out.append(_plain(b["text"]["text"]))
            for f in b.get("fields") or []:
                out.append("  " + _plain(f["text"]).replace("\n", " "))
            acc = b.get("accessory")
            if acc and acc.get("type") == "button":
                out.append(f"  [{acc['text']['text']}]")
        elif kind == "context":
            out.append("  " + "  ".join(_plain(e.get("text", "")) for e in b.get("elements", [])))
        elif kind == "divider":
            out.append("-" * 60)
        elif kind == "actions":
            out.append("  " + " ".join(f"[{e['text']['text']}]" for e in b.get("elements", []) if e.get("text")))
        elif kind == "image":
            out.append(f"  (chart: {b.get('alt_text', '')})")
    if not out and fallback:
        out.append(_plain(fallback))
    return "\n".join(out)
