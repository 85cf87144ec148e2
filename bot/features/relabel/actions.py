"""Relabel clicks: the four label buttons (`relabel:<Label>`), Undo, and Apply anyway / Keep after a stale click.

Path: ack → who is clicking (CS_OPS_ADMINS, else their Slack email from users.info) → `workflows.relabel`
(one compare-and-set transaction + history) → the clicked block is replaced in place: `chat.update` for a
normal message (the digest DM); for an ephemeral message without its blocks in the payload (a `/usage`
answer) a new ephemeral confirmation is posted, since Slack does not send its content back.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.format import escape, section
from bot.blocks.ids import RELABEL_ACTION_PREFIX, RELABEL_ACTION_RE, decode_value
from bot.features.relabel.blocks import (
    APPLY_ACTION,
    KEEP_ACTION,
    UNDO_ACTION,
    current_label_block,
    labelled_block,
    relabel_actions_block,
    relabel_block_id,
    replace_block,
    stale_prompt,
)
from bot.listener import UsageContext, acked_then
from workflows.policy import REFUSE_ACT
from workflows.relabel import RelabelOutcome, relabel

log = logging.getLogger("usagebot.relabel")


def _user_email(client: WebClient, user_id: str) -> str | None:
    try:
        user = client.users_info(user=user_id).get("user") or {}
    except SlackApiError:
        log.warning("users.info failed for %s", user_id, exc_info=True)
        return None
    return ((user.get("profile") or {}).get("email") or "").strip().lower() or None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Click:
    """What a block_actions payload says about the clicked button and its message."""

    def __init__(self, ctx: UsageContext) -> None:
        action = ctx.action
        self.action_id: str = str(action.get("action_id") or "")
        self.block_id: str = str(action.get("block_id") or "")
        self.value = decode_value(action.get("value"))
        self.user_id: str = ctx.user_id
        self.user_name: str | None = ctx.user_name
        container = ctx.body.get("container") or {}
        self.channel: str | None = ctx.channel_id
        self.message: dict[str, Any] | None = ctx.body.get("message")
        self.ts: str | None = (self.message or {}).get("ts") or container.get("message_ts")
        self.ephemeral: bool = bool(container.get("is_ephemeral"))
        self.instance_id = _int(self.value.get("i"))
        self.origin = str(self.value.get("o") or "slack")[:32]

    @property
    def message_ref(self) -> str | None:
        return f"{self.channel}:{self.ts}" if self.channel and self.ts and not self.ephemeral else None


def _apply(ctx: UsageContext, click: Click, to_label: str, expected: int | None, *, undo: bool) -> RelabelOutcome:
    admins = ctx.settings.admin_ids
    email = None if click.user_id in admins else _user_email(ctx.client, click.user_id)
    origin = "undo" if undo else click.origin
    outcome = relabel(
        ctx.session,
        instance_id=click.instance_id if click.instance_id is not None else -1,
        to_label=to_label,
        expected_version=expected,
        user_id=click.user_id,
        user_name=click.user_name,
        user_email=email,
        admin_ids=admins,
        origin=origin,
        message_ref=click.message_ref,
        undo=undo,
    )
    if outcome.status == "applied" and outcome.instance is not None:
        # App Home: the TAM's portfolio follows the new label, in the background.
        from bot.features.home.jobs import refresh_home_later

        refresh_home_later(ctx.client, [outcome.instance.account_id], settings=ctx.settings)
    return outcome


def _just_labelled(click: Click, outcome: RelabelOutcome, block_id: str) -> dict[str, Any]:
    """ "Labelled *X* by @clicker just now", with an Undo back to the label it replaced."""
    assert outcome.instance is not None
    return labelled_block(
        block_id=block_id,
        instance=outcome.instance,
        by_user=click.user_id,
        just_now=True,
        at=None,
        undo_to=outcome.previous_label,
        origin=click.origin,
    )


def _replace_ephemeral_view(
    ctx: UsageContext, click: Click, account_id: str, block: dict[str, Any], fallback: str
) -> bool:
    """Replace an ephemeral `/usage … instances` answer (Slack never sends its blocks back) with the same view
    rebuilt from the database, `block` (the confirmation, with its Undo) right under the heading."""
    from bot import guard
    from bot.blocks.limits import fit_to_limits
    from bot.features.usage.command import Viewer, account_answer

    try:
        viewer = Viewer(person=guard.person(ctx.client, click.user_id), admin_ids=ctx.settings.admin_ids)
        answer = account_answer(ctx.session, ctx.settings, account_id, "instances", viewer, with_chart=False)
    except Exception:  # the label is set; a plain confirmation is the fallback
        ctx.session.rollback()
        log.warning("could not rebuild the instances view after a relabel", exc_info=True)
        return False
    blocks = list(answer.blocks)
    blocks.insert(min(1, len(blocks)), block)
    ctx.respond(replace_original=True, text=fallback, blocks=fit_to_limits(blocks))
    return True


def _show_in_message(
    ctx: UsageContext, click: Click, block: dict[str, Any], fallback: str, *, rebuild: bool = True
) -> None:
    """Replace the clicked block with `block` where the person sees it."""
    if click.message and click.message.get("blocks") and click.channel and click.ts:
        blocks = replace_block(list(click.message["blocks"]), click.block_id, block)
        if click.ephemeral:
            ctx.respond(replace_original=True, text=fallback, blocks=blocks)
        else:
            ctx.client.chat_update(
                channel=click.channel, ts=click.ts, text=click.message.get("text") or fallback, blocks=blocks
            )
    else:
        account_id = click.value.get("a")
        if account_id and rebuild and _replace_ephemeral_view(ctx, click, str(account_id), block, fallback):
            return
        ctx.respond(replace_original=False, response_type="ephemeral", text=fallback, blocks=[block])


def _outcome_to_slack(
    ctx: UsageContext,
    click: Click,
    outcome: RelabelOutcome,
    wanted: str,
    seen: str | None,
    *,
    rebuild: bool = True,
) -> None:
    block_id = click.block_id or (relabel_block_id(click.instance_id) if click.instance_id is not None else "relabel")
    if outcome.status in ("refused", "not_found", "invalid"):
        # A refusal names nothing (not even the account): the person may not be allowed to know it.
        text = REFUSE_ACT if outcome.status == "refused" else f":warning: {outcome.message}"
        ctx.respond(replace_original=False, response_type="ephemeral", text=text)
        return
    inst = outcome.instance
    assert inst is not None
    if outcome.status == "applied":
        if inst.label == "Unknown":  # an Undo back to Unknown: offer the buttons again
            block = relabel_actions_block(
                instance_id=inst.id,
                current_label=inst.label,
                label_version=inst.label_version,
                account_id=inst.account_id,
                origin=click.origin,
                deployment_type=getattr(inst, "deployment_type", None),
            )
        else:
            block = _just_labelled(click, outcome, block_id)
        block["block_id"] = block_id
        _show_in_message(ctx, click, block, f"{escape(inst.name)}: labelled {escape(inst.label)}", rebuild=rebuild)
        return
    change = outcome.last_change
    if outcome.status == "already":
        # Double click or identical concurrent clicks: one change happened; show it (with its Undo).
        undo_to = change.from_label if change is not None and change.to_label == inst.label else None
        block = labelled_block(
            block_id=block_id,
            instance=inst,
            by_user=change.by if change is not None else "the data sync",
            just_now=False,
            at=change.at if change is not None else None,
            undo_to=undo_to,
            origin=click.origin,
        )
        _show_in_message(ctx, click, block, f"{escape(inst.name)}: labelled {escape(inst.label)}", rebuild=rebuild)
        return
    # Stale: the message shows the truth now, and the person decides in an ephemeral prompt.
    if click.message and click.message.get("blocks"):
        current = current_label_block(block_id=block_id, instance=inst, change=change)
        _show_in_message(ctx, click, current, escape(inst.name), rebuild=False)
    ctx.respond(
        replace_original=False,
        response_type="ephemeral",
        text=f"{escape(inst.name)} changed since your message",
        blocks=stale_prompt(
            instance=inst,
            wanted=wanted,
            seen=seen or "?",
            change=change,
            origin=click.origin,
            message_ref=f"{click.message_ref}|{block_id}" if click.message_ref else None,
        ),
    )


def on_relabel(ctx: UsageContext) -> None:
    click = Click(ctx)
    wanted = click.action_id.removeprefix(RELABEL_ACTION_PREFIX)
    outcome = _apply(ctx, click, wanted, _int(click.value.get("n")), undo=False)
    _outcome_to_slack(ctx, click, outcome, wanted, click.value.get("f"))


def on_undo(ctx: UsageContext) -> None:
    click = Click(ctx)
    wanted = str(click.value.get("t") or "")
    outcome = _apply(ctx, click, wanted, _int(click.value.get("n")), undo=True)
    if click.ephemeral and not click.message and outcome.status == "applied" and outcome.instance is not None:
        # An ephemeral answer: the instances view again, rebuilt, with this confirmation on top; else our own
        # one-block confirmation, replaced whole.
        inst = outcome.instance
        if inst.label == "Unknown":
            block = relabel_actions_block(
                instance_id=inst.id,
                current_label=inst.label,
                label_version=inst.label_version,
                account_id=inst.account_id,
                origin=click.origin,
                deployment_type=getattr(inst, "deployment_type", None),
            )
            undone = f"Undone: *{escape(inst.name)}* is *Unknown* again."
            blocks = [section(undone), block]
        else:
            blocks = [_just_labelled(click, outcome, relabel_block_id(inst.id))]
        fallback = f"{escape(inst.name)}: {escape(inst.label)}"
        if _replace_ephemeral_view(ctx, click, inst.account_id, blocks[0], fallback):
            return
        ctx.respond(replace_original=True, text=fallback, blocks=blocks)
        return
    _outcome_to_slack(ctx, click, outcome, wanted, None)


def on_apply_anyway(ctx: UsageContext) -> None:
    click = Click(ctx)
    client = ctx.client
    wanted = str(click.value.get("t") or "")
    ref = str(click.value.get("m") or "")
    outcome = _apply(ctx, click, wanted, _int(click.value.get("n")), undo=False)
    if outcome.status != "applied" or outcome.instance is None:
        _outcome_to_slack(ctx, click, outcome, wanted, click.value.get("f"), rebuild=False)
        return
    inst = outcome.instance
    block = _just_labelled(click, outcome, relabel_block_id(inst.id))
    ctx.respond(replace_original=True, text=f"{escape(inst.name)}: labelled {escape(inst.label)}", blocks=[block])
    # Also fix the original message (the digest DM): conversations.replies on its ts returns that message.
    match = re.fullmatch(r"([A-Z0-9]+):([0-9.]+)\|(.+)", ref)
    if match and match.group(1) != click.channel:
        # The prompt is shown in the conversation of the message it refers to; a reference elsewhere (someone
        # else's DM) is forged and never followed.
        log.warning("relabel_apply from %s names another conversation (%s); ignored", click.user_id, ref)
        match = None
    if match:
        channel, ts, block_id = match.groups()
        try:
            history = client.conversations_replies(channel=channel, ts=ts, limit=1)
            message = next((m for m in history.get("messages") or [] if m.get("ts") == ts), None)
            if message and message.get("blocks"):
                block["block_id"] = block_id
                blocks = replace_block(list(message["blocks"]), block_id, block)
                client.chat_update(channel=channel, ts=ts, text=message.get("text") or escape(inst.name), blocks=blocks)
        except SlackApiError:
            log.warning("could not update the original message %s", ref, exc_info=True)


def on_keep(ctx: UsageContext) -> None:
    ctx.respond(replace_original=True, text="Kept as it is. Nothing was changed.")


def register(app: App) -> None:
    app.action(re.compile(RELABEL_ACTION_RE))(**acked_then("relabel", on_relabel))
    app.action(UNDO_ACTION)(**acked_then("relabel undo", on_undo))
    app.action(APPLY_ACTION)(**acked_then("relabel apply anyway", on_apply_anyway))
    app.action(KEEP_ACTION)(**acked_then("relabel keep", on_keep))
