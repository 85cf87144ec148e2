"""Relabel buttons and what replaces them after a click (pure Block Kit builders).

Contract (see also `bot/blocks/ids.py`), handled by `bot/features/relabel/actions.py`:
- `relabel:<Label>` (the four label buttons), value {i: instance id, f: label shown, n: label_version shown,
  a: account id, o: origin ("digest" | "usage")}. Any renderer showing an Unknown instance (the digest,
  D's `/usage ACCOUNT instances`) should use `relabel_actions_block(...)` so the click can find and replace
  its block: the block_id is `relabel:<instance id>`.
- `relabel_undo`: value {i, t: label to go back to, n: label_version after the change, a, o}.
- `relabel_apply` ("Apply anyway" after a stale click): value {i, t: wanted label, n: version now, f: label now,
  a, o, m: "channel:ts" of the original message or absent}.
- `relabel_keep`: value {i}.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.blocks.format import actions, button, escape, section
from bot.blocks.ids import encode_value, relabel_action, relabel_targets
from workflows.relabel import ChangeInfo, InstanceState

Block = dict[str, Any]

UNDO_ACTION = "relabel_undo"
APPLY_ACTION = "relabel_apply"
KEEP_ACTION = "relabel_keep"


def relabel_block_id(instance_id: int) -> str:
    return f"relabel:{instance_id}"


def relabel_actions_block(
    *,
    instance_id: int,
    current_label: str,
    label_version: int,
    account_id: str,
    origin: str,
    deployment_type: str | None = None,
) -> Block:
    """The label buttons for one instance: only labels that can apply to it (no Geo for a namespace)."""
    # One value for all four buttons (the label is in the action id): encoded once, as digests render thousands.
    value = encode_value(i=instance_id, f=current_label, n=label_version, a=account_id, o=origin)
    labels = [label for label in relabel_targets(deployment_type) if label != current_label]
    elements = [button(label, relabel_action(label), value) for label in labels]
    return actions(elements, block_id=relabel_block_id(instance_id))


def _when(at: datetime | None) -> str:
    if at is None:
        return "at an unknown time"
    epoch = int(at.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|{at.strftime('%Y-%m-%d %H:%M UTC')}>"


def _who(change: ChangeInfo | None) -> str:
    if change is None:
        return "the data sync"
    if change.by.startswith(("U", "W")):
        return f"<@{change.by}>"
    return escape(change.by_name or change.by)


def labelled_block(
    *,
    block_id: str,
    instance: InstanceState,
    by_user: str,
    just_now: bool,
    at: datetime | None,
    undo_to: str | None,
    origin: str,
) -> Block:
    """'Labelled *Production* by @tam just now' with an Undo button (when there is something to go back to)."""
    when = "just now" if just_now else _when(at)
    who = f"<@{by_user}>" if by_user.startswith(("U", "W")) else escape(by_user)
    text = f":white_check_mark: *{escape(instance.name)}*: labelled *{escape(instance.label)}* by {who} {when}"
    if undo_to is None:
        return section(text, block_id)
    value = encode_value(i=instance.id, t=undo_to, n=instance.label_version, a=instance.account_id, o=origin)
    return section(text, block_id, accessory=button("Undo", UNDO_ACTION, value))


def current_label_block(*, block_id: str, instance: InstanceState, change: ChangeInfo | None) -> Block:
    """What the message shows when someone else changed the label: the truth, without buttons."""
    text = f":information_source: *{escape(instance.name)}* is now *{escape(instance.label)}*"
    if change is not None:
        text += f" (set by {_who(change)} {_when(change.at)})"
    return section(text, block_id)


def stale_prompt(
    *, instance: InstanceState, wanted: str, seen: str, change: ChangeInfo | None, origin: str, message_ref: str | None
) -> list[Block]:
    """Ephemeral: the label changed since the message; apply anyway or keep."""
    text = (
        f":warning: *{escape(instance.name)}* ({escape(instance.account_name)}) changed since your message: "
        f"{_who(change)} set it to *{escape(instance.label)}* {_when(change.at if change else None)} "
        f"(your message showed *{escape(seen)}*). Still label it *{escape(wanted)}*?"
    )
    apply_value = encode_value(
        i=instance.id,
        t=wanted,
        n=instance.label_version,
        f=instance.label,
        a=instance.account_id,
        o=origin,
        m=message_ref,
    )
    return [
        section(text),
        actions(
            [
                button(f"Apply anyway: {wanted}", APPLY_ACTION, apply_value, "primary"),
                button(f"Keep {instance.label}", KEEP_ACTION, encode_value(i=instance.id)),
            ],
            block_id=f"relabel_stale:{instance.id}",
        ),
    ]


def replace_block(blocks: list[Block], block_id: str, new: Block) -> list[Block]:
    """`blocks` with the block `block_id` swapped for `new` (unchanged if it is not there)."""
    return [new if b.get("block_id") == block_id else b for b in blocks]
