"""The monthly digest as Slack messages: grouped by account, split to fit Slack's limits.

Each Unknown instance is two blocks: a section describing it and an actions block (block_id
`relabel:<instance id>`) with the four label buttons of `bot.features.relabel.blocks`. An instance never
straddles two messages; an account that continues in the next message is repeated "(continued)".
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from bot.blocks.format import context, escape, header, section
from bot.blocks.limits import MAX_BLOCKS, fit_block, pack_lines
from bot.features.relabel.blocks import relabel_actions_block
from workflows.digest.compose import DigestAccount, DigestInstance, TamDigest

Block = dict[str, Any]

# Room kept free in each message: one header, one footer, and one block so a click can swap a block for two.
_BODY_ROOM = MAX_BLOCKS["message"] - 3


def _month_title(month: str) -> str:
    return datetime.strptime(month, "%Y-%m").strftime("%B %Y")


def _day(value: date | datetime | None) -> str:
    if value is None:
        return "never"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return value.strftime("%Y-%m")


def instance_line(inst: DigestInstance) -> str:
    users = "n/a" if inst.billable_users is None else f"{inst.billable_users:,}"
    line = (
        f"*{escape(inst.name)}* ({inst.kind}) · version {escape(inst.version) or 'n/a'} · "
        f"first seen {_day(inst.first_seen)} · last ping {_day(inst.last_ping)} · {users} billable users"
    )
    if inst.probably_obsolete:
        line += f"\n:zzz: silent for {inst.silent_days} days: _probably obsolete_"
    elif inst.last_ping is None:
        line += "\n:grey_question: never pinged"
    return line


def _instance_blocks(account: DigestAccount, inst: DigestInstance) -> list[Block]:
    return [
        section(instance_line(inst), block_id=f"inst:{inst.id}"),
        relabel_actions_block(
            instance_id=inst.id,
            current_label="Unknown",
            label_version=inst.label_version,
            account_id=account.id,
            origin="digest",
            deployment_type="GitLab.com" if inst.kind == "namespace" else "Self-Managed",
        ),
    ]


def _account_block(account: DigestAccount, continued: bool, n: int) -> Block:
    suffix = " (continued)" if continued else f": {n} Unknown instance{'s' if n != 1 else ''}"
    return section(f":office: *{escape(account.name)}*{suffix}")


def _flag_blocks(digest: TamDigest) -> list[Block]:
    if not digest.flags:
        return []
    lines = [":triangular_flag_on_post: *Needs you*"] + [
        f"• *{escape(f.account_name)}*, {escape(f.instance_name)}: {escape(f.message)}" for f in digest.flags
    ]
    return [section(chunk) for chunk in pack_lines(lines)]


def render_digest(digest: TamDigest) -> list[dict[str, Any]]:
    """Messages ({"text", "blocks"}) for one TAM; every one within 50 blocks and 3,000 characters a section."""
    title = f"Unknown instances on your accounts, {_month_title(digest.month)}"
    intro: Block = section(
        f"{digest.instance_count:,} instance{'s' if digest.instance_count != 1 else ''} on "
        f"{len(digest.accounts)} of your account{'s' if len(digest.accounts) != 1 else ''} "
        "have no type. Health scores only count the right instances once they are labelled: "
        "pick a label for each (it applies at once, with an Undo)."
    )
    pages: list[list[Block]] = [[intro]]

    def room(page: list[Block]) -> int:
        return _BODY_ROOM - len(page)

    for account in digest.accounts:
        first = True
        for inst in account.instances:
            unit = _instance_blocks(account, inst)
            page = pages[-1]
            need = len(unit) + (1 if first or not page else 0)
            if room(page) < need:
                page = []
                pages.append(page)
            if first or not page:
                page.append(_account_block(account, continued=not first, n=len(account.instances)))
            page.extend(unit)
            first = False
    for block in _flag_blocks(digest):
        if room(pages[-1]) < 1:
            pages.append([])
        pages[-1].append(block)

    total = len(pages)
    messages = []
    for number, page in enumerate(pages, start=1):
        header_text = title if total == 1 else f"{title} ({number}/{total})"
        footer = context(
            f"Part {number} of {total} · monthly digest from usagebot · `/usage digest` shows it again any time"
        )
        # Our own button rows are within limits by construction (short texts, small values): only texts need fitting.
        blocks = [b if b["type"] == "actions" else fit_block(b) for b in [header(header_text), *page, footer]]
        messages.append({"text": header_text, "blocks": blocks})
    return messages


def render_digest_text(digest: TamDigest) -> str:
    """The same digest as plain text (dry runs, `usagebot try`)."""
    lines = [f"{digest.tam_email} ({digest.tam_name or 'TAM'}): {digest.instance_count} Unknown instances"]
    for account in digest.accounts:
        lines.append(f"  {account.name}")
        for inst in account.instances:
            lines.append("    - " + instance_line(inst).replace("*", "").replace("\n", " "))
    for flag in digest.flags:
        lines.append(f"  ! {flag.account_name}, {flag.instance_name}: {flag.message}")
    return "\n".join(lines)
