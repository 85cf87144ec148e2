"""Block Kit for the alert DM: one message per TAM, grouped by account, within Slack's limits.

Pure: alert records in, blocks out. Each account gets a section (its alerts and the exact `/usage`
commands that explain them) and an actions block with a Mute button.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.format import actions, button, confirm_dialog, context, escape, header, section
from bot.blocks.ids import encode_value
from bot.blocks.limits import clip, pack_lines
from db.models import AlertRecord
from workflows.wording import plural

# The `/usage` view buttons' ids and values (the contract in bot/blocks/ids.py: `usage_view:<view>`,
# value {"a": account id}); spelled out here so alert DMs do not depend on the usage renderers.
VIEW_ACTION_PREFIX = "usage_view:"
MUTE_ACTION = "alerts_mute"
UNMUTE_ACTION = "alerts_unmute"
MAX_BLOCKS = 50
SECTION_CHARS = 3000
_ICON = {
    "color_drop": ":small_red_triangle_down:",
    "utilization_drop": ":chart_with_downwards_trend:",
    "low_utilization": ":warning:",
    "stopped_reporting": ":satellite_antenna:",
}


def actions_block_id(account_id: str) -> str:
    return f"alert_actions:{account_id}"[:255]


def mute_button(account_id: str) -> dict[str, Any]:
    return {
        **button("Mute this account's alerts", MUTE_ACTION, account_id),
        "confirm": confirm_dialog(
            "Mute alerts?", "You will get no more alerts for this account until you unmute it.", "Mute", "Cancel"
        ),
    }


def unmute_button(account_id: str) -> dict[str, Any]:
    return button("Unmute", UNMUTE_ACTION, account_id)


def view_buttons(account_id: str, records: Sequence[AlertRecord]) -> list[dict[str, Any]]:
    """Buttons running the `/usage` views that explain the alerts (handled by the usage actions)."""
    views: list[str] = []
    for r in records:
        view = (r.details or {}).get("view")
        if view and view not in views:
            views.append(view)
    return [button(v.capitalize(), VIEW_ACTION_PREFIX + v, encode_value(a=account_id)) for v in views]


def account_section(account_name: str, records: Sequence[AlertRecord]) -> str:
    lines = [f"*{escape(account_name)}*"]
    commands: list[str] = []
    for r in records:
        lines.append(f"{_ICON.get(r.kind, '•')} {escape(r.message)}")
        cmd = (r.details or {}).get("command")
        if cmd and cmd not in commands:
            commands.append(cmd)
    if commands:
        lines.append("Why: " + " · ".join(f"`{escape(c)}`" for c in commands))
    return clip("\n".join(lines), SECTION_CHARS)


def alert_text(records: Sequence[AlertRecord]) -> str:
    """The notification text (and the fallback for clients without blocks)."""
    accounts = {r.account_id for r in records}
    return f"Health alerts: {plural(len(records), 'change')} on {len(accounts):,} of your accounts since the last sync"


def alert_blocks(records: Sequence[AlertRecord]) -> list[dict[str, Any]]:
    """Header, then per account a section and a Mute button; accounts beyond the block limit are listed."""
    by_account: dict[str, list[AlertRecord]] = {}
    for r in records:
        by_account.setdefault(r.account_id, []).append(r)
    months = sorted({r.month for r in records})
    month_text = ", ".join(m.strftime("%Y-%m") for m in months)
    blocks: list[dict[str, Any]] = [
        header("Health alerts for your accounts"),
        context(f"Data as of {month_text}, compared with the month before. Run the command shown to see why."),
    ]
    # Accounts beyond what fits with buttons are listed in a few compact sections (names, counts, commands).
    overflow_sections = 3
    room = MAX_BLOCKS - len(blocks)
    full = len(by_account) if 2 * len(by_account) <= room else (room - overflow_sections) // 2
    overflow: list[str] = []
    for n, (account_id, recs) in enumerate(by_account.items()):
        name = (recs[0].details or {}).get("account_name") or account_id
        if n >= full:
            kinds = sorted({r.kind.replace("_", " ") for r in recs})
            overflow.append(f"• *{escape(name)}*: {plural(len(recs), 'alert')} ({', '.join(kinds)})")
            continue
        blocks.append(section(account_section(name, recs)))
        elements = [*view_buttons(account_id, recs), mute_button(account_id)]
        blocks.append(actions(elements, block_id=actions_block_id(account_id)))
    if overflow:
        head = f"*{plural(len(overflow), 'more account')}* (run `/usage ACCOUNT health` for each):"
        chunks = pack_lines([head, *overflow])
        if len(chunks) > overflow_sections:
            chunks = [*chunks[: overflow_sections - 1], clip("\n".join(chunks[overflow_sections - 1 :]), SECTION_CHARS)]
        blocks.extend(section(c) for c in chunks)
    return blocks


def with_mute_state(blocks: Sequence[dict[str, Any]], account_id: str, muted: bool, who: str) -> list[dict[str, Any]]:
    """The same message with the account's Mute button swapped for a note and Unmute (or back)."""
    out: list[dict[str, Any]] = []
    bid = actions_block_id(account_id)
    for b in blocks:
        if b.get("block_id") == bid:
            keep = [e for e in b.get("elements") or [] if e.get("action_id") not in (MUTE_ACTION, UNMUTE_ACTION)]
            if muted:
                out.append(
                    {**context(f":no_bell: Alerts muted by {who}."), "block_id": f"alert_note:{account_id}"[:255]}
                )
            toggle = unmute_button(account_id) if muted else mute_button(account_id)
            out.append({**b, "elements": [*keep, toggle]})
            continue
        if b.get("block_id") == f"alert_note:{account_id}"[:255]:
            continue
        out.append(b)
    return out
