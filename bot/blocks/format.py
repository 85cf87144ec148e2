"""Small pure formatters shared by every renderer: colours, people's numbers, sparklines, mrkdwn safety,
and a Block Kit -> plain text conversion for the terminal (`usagebot try`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from workflows.escaping import mrkdwn

_EMOJI: dict[str, str] = {"Red": "🔴", "Yellow": "🟡", "Green": "🟢", "No data": "⚪"}
_SPARK = "▁▂▃▄▅▆▇█"


def color_text(color: str | None) -> str:
    """Colour as emoji AND word, never colour alone: '🔴 Red', '⚪ No data', 'N/A'."""
    if not color:
        return "N/A"
    emoji = _EMOJI.get(color)
    return f"{emoji} {color}" if emoji else color


# The one escaping rule for Slack mrkdwn (Slack's own: &, <, >), under the name renderers use.
escape = mrkdwn


def pct(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}%}"


def number(value: float | int | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def seats_text(billable: int | None, seats: int, utilization: float | None = None) -> str:
    """People's numbers: '84 of 200 seats, 42%'."""
    if seats <= 0:
        return "no licensed seats this month" if billable is None else f"{billable:,} billable users, no licensed seats"
    if billable is None:
        return f"no billable users reported, {seats:,} seats"
    share = utilization if utilization is not None else billable / seats
    return f"{billable:,} of {seats:,} seats, {share:.0%}"


def sparkline(values: Sequence[float | None]) -> str:
    """▁▂▃▄▅▆▇█ of a series; '·' for a month without data."""
    known = [v for v in values if v is not None]
    if not known:
        return "·" * len(values)
    lo, hi = min(known), max(known)
    span = (hi - lo) or 1.0
    return "".join("·" if v is None else _SPARK[round((v - lo) / span * (len(_SPARK) - 1))] for v in values)


def ym(d: date | None) -> str:
    return d.strftime("%Y-%m") if d else "n/a"


def day(ts: datetime | date | None) -> str:
    return ts.strftime("%Y-%m-%d") if ts else "never"


# ------------------------------------------------------------------------------ Block Kit builders


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def fields_section(fields: Sequence[str]) -> dict[str, Any]:
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}


def divider() -> dict[str, Any]:
    return {"type": "divider"}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    b: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


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
