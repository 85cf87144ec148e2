"""Slack's Block Kit limits, one helper that makes any block list fit them, and a checker for tests.

Every Block Kit builder (`bot/features/*/blocks.py`) ends with `fit_to_limits(...)`; tests run
`check_limits(...)` on what was sent. Limits (from Slack's Block Kit reference):
50 blocks per message, 100 per modal or Home tab; section text 3,000 characters; a section field
2,000 (and at most 10 fields); header text 150; context elements 10, each 2,000; button text 75,
button value 2,000; action_id and block_id 255; an actions block holds at most 25 elements.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

Block = dict[str, Any]
Surface = Literal["message", "modal", "home"]

MAX_BLOCKS: dict[str, int] = {"message": 50, "modal": 100, "home": 100}
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ID = 255
MAX_ACTIONS = 25
MAX_MESSAGE_TEXT = 3000  # the notification `text` next to blocks: keep it short; Slack truncates at 40,000

ELLIPSIS = "…"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + ELLIPSIS


def pack_lines(lines: Sequence[str], limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Join lines into as few texts as possible, each within `limit` (a too-long line is clipped)."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        line = clip(line, limit)
        if current and len(current) + 1 + len(line) > limit:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return chunks


def summarize(items: Sequence[str], keep: int, noun: str = "more") -> list[str]:
    """The first `keep` items, then one 'and N more' line for the rest."""
    if len(items) <= keep:
        return list(items)
    return [*items[:keep], f"_…and {len(items) - keep:,} {noun}_"]


def _fit_text(obj: dict[str, Any] | None, limit: int) -> None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        obj["text"] = clip(obj["text"], limit)


def _check_id(kind: str, value: Any) -> None:
    # Ids and values carry data the click handler needs: cutting them would corrupt it, so it is a bug.
    if isinstance(value, str) and len(value) > MAX_ID:
        raise ValueError(f"{kind} longer than {MAX_ID} characters: {value[:40]}…")


def _fit_element(el: dict[str, Any]) -> dict[str, Any]:
    el = dict(el)
    if el.get("type") == "button":
        el["text"] = dict(el.get("text") or {})
        _fit_text(el["text"], MAX_BUTTON_TEXT)
        if len(str(el.get("value") or "")) > MAX_BUTTON_VALUE:
            raise ValueError(f"button value longer than {MAX_BUTTON_VALUE} characters (action {el.get('action_id')})")
    _check_id("action_id", el.get("action_id"))
    return el


def fit_block(block: Block) -> Block:
    """One block cut to Slack's per-block limits (texts clipped; ids and values checked)."""
    b = dict(block)
    _check_id("block_id", b.get("block_id"))
    kind = b.get("type")
    if kind == "section":
        if "text" in b:
            b["text"] = dict(b["text"])
            _fit_text(b["text"], MAX_SECTION_TEXT)
        if "fields" in b:
            fields = [dict(f) for f in b["fields"][:MAX_FIELDS]]
            for f in fields:
                _fit_text(f, MAX_FIELD_TEXT)
            b["fields"] = fields
        if "accessory" in b:
            b["accessory"] = _fit_element(b["accessory"])
    elif kind == "header":
        b["text"] = dict(b["text"])
        _fit_text(b["text"], MAX_HEADER_TEXT)
    elif kind == "context":
        elements = [dict(e) for e in b.get("elements", [])[:MAX_CONTEXT_ELEMENTS]]
        for e in elements:
            _fit_text(e, MAX_CONTEXT_TEXT)
        b["elements"] = elements
    elif kind == "actions":
        b["elements"] = [_fit_element(e) for e in b.get("elements", [])[:MAX_ACTIONS]]
    return b


def more_note(n: int, what: str = "more not shown") -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": f"_…and {n:,} {what}_"}]}


def fit_to_limits(
    blocks: Iterable[Block],
    *,
    footer: Sequence[Block] = (),
    surface: Surface = "message",
    more: str = "more not shown",
) -> list[Block]:
    """`blocks` then `footer` (e.g. the buttons), within the surface's limits.

    Each block is clipped to its own limits. When there are too many blocks, the body is cut and a
    context line "…and N more not shown" takes the place of the rest; the footer is always kept.
    """
    body = [fit_block(b) for b in blocks]
    tail = [fit_block(b) for b in footer]
    room = MAX_BLOCKS[surface] - len(tail)
    if len(body) > room:
        keep = room - 1
        body = [*body[:keep], more_note(len(body) - keep, more)]
    return body + tail


def check_limits(blocks: Sequence[Block], surface: Surface = "message") -> list[str]:
    """Every way `blocks` breaks Slack's limits for `surface` (empty when they are fine)."""
    problems: list[str] = []
    if len(blocks) > MAX_BLOCKS[surface]:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS[surface]}")
    ids: set[str] = set()

    def text_len(obj: Any, limit: int, where: str) -> None:
        if isinstance(obj, dict) and len(str(obj.get("text") or "")) > limit:
            problems.append(f"{where}: text of {len(obj['text'])} > {limit}")

    def element(el: dict[str, Any], where: str) -> None:
        aid = el.get("action_id")
        if aid is not None and len(aid) > MAX_ID:
            problems.append(f"{where}: action_id over {MAX_ID}")
        if el.get("type") == "button":
            text_len(el.get("text"), MAX_BUTTON_TEXT, where + " button")
            if len(str(el.get("value") or "")) > MAX_BUTTON_VALUE:
                problems.append(f"{where}: button value over {MAX_BUTTON_VALUE}")

    for i, b in enumerate(blocks):
        where = f"block {i} ({b.get('type')})"
        bid = b.get("block_id")
        if bid is not None:
            if len(bid) > MAX_ID:
                problems.append(f"{where}: block_id over {MAX_ID}")
            if bid in ids:
                problems.append(f"{where}: duplicate block_id {bid}")
            ids.add(bid)
        if b.get("type") == "section":
            if "text" not in b and "fields" not in b:
                problems.append(f"{where}: section without text or fields")
            text_len(b.get("text"), MAX_SECTION_TEXT, where)
            if isinstance(b.get("text"), dict) and not b["text"].get("text"):
                problems.append(f"{where}: empty section text")
            fields = b.get("fields") or []
            if len(fields) > MAX_FIELDS:
                problems.append(f"{where}: {len(fields)} fields > {MAX_FIELDS}")
            for f in fields:
                text_len(f, MAX_FIELD_TEXT, where + " field")
            if "accessory" in b:
                element(b["accessory"], where)
        elif b.get("type") == "header":
            text_len(b.get("text"), MAX_HEADER_TEXT, where)
        elif b.get("type") == "context":
            els = b.get("elements") or []
            if not els or len(els) > MAX_CONTEXT_ELEMENTS:
                problems.append(f"{where}: {len(els)} context elements")
            for e in els:
                text_len(e, MAX_CONTEXT_TEXT, where)
        elif b.get("type") == "actions":
            els = b.get("elements") or []
            if not els or len(els) > MAX_ACTIONS:
                problems.append(f"{where}: {len(els)} actions")
            seen: set[str] = set()
            for e in els:
                element(e, where)
                aid = e.get("action_id")
                if aid in seen:
                    problems.append(f"{where}: duplicate action_id {aid}")
                seen.add(aid)
    return problems
