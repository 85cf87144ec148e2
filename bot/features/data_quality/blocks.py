"""Block Kit of the data-quality triage: the "Report a data issue" modal, the triage thread in
#cs-product-analytics, its replies, and the confirmation to the reporter. Pure: data in, blocks out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.format import context, escape, fields_section, header, option, plain_text, section
from bot.blocks.ids import decode_value, encode_metadata
from bot.blocks.limits import fit_to_limits
from db.models import DataIssue
from workflows.data_quality import METRIC_MAX, SCOPE_LABELS, WHAT_MAX, IssueContext

CALLBACK_ID = "data_issue_submit"
# block_id -> the field name `workflows.data_quality.validate` reports problems under.
WHAT_BLOCK, METRIC_BLOCK, INSTANCE_BLOCK, SCOPE_BLOCK = "dq_what", "dq_metric", "dq_instance", "dq_scope"
FIELD_BLOCKS = {"what": WHAT_BLOCK, "metric": METRIC_BLOCK, "instance": INSTANCE_BLOCK, "scope": SCOPE_BLOCK}
ACTION = "value"


def private_metadata(account_id: str, instance_id: int | None, metric: str | None, view: str | None) -> str:
    return encode_metadata(a=account_id[:64], i=instance_id, m=(metric or "")[:METRIC_MAX] or None, v=view)


def report_modal(
    ctx: IssueContext, instances: Sequence[tuple[int, str, str]], view: str | None = None
) -> dict[str, Any]:
    """The modal, pre-filled from where it was opened (account, instance, metric in private_metadata)."""
    where = [f"*{escape(ctx.account_name)}*"]
    if ctx.instance_name:
        where.append(escape(ctx.instance_name))
    as_of = ctx.as_of.strftime("%Y-%m") if ctx.as_of else "unknown"
    blocks: list[dict[str, Any]] = [
        context(" · ".join(where) + f" · data as of {as_of}"),
        {
            "type": "input",
            "block_id": WHAT_BLOCK,
            "label": plain_text("What looks wrong?"),
            "element": {
                "type": "plain_text_input",
                "action_id": ACTION,
                "multiline": True,
                "max_length": WHAT_MAX,
                "placeholder": plain_text("e.g. billable users show 80, the license app says 180"),
            },
        },
    ]
    metric_el: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ACTION,
        "max_length": METRIC_MAX,
        "placeholder": plain_text("e.g. billable_user_count or ci_builds_28_days_event"),
    }
    if ctx.metric:
        metric_el["initial_value"] = ctx.metric
    blocks.append(
        {
            "type": "input",
            "block_id": METRIC_BLOCK,
            "optional": True,
            "label": plain_text("Which metric?"),
            "element": metric_el,
        }
    )
    if instances:
        options = [option(f"{name} ({label})", str(iid)) for iid, name, label in instances[:100]]
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": ACTION,
            "placeholder": plain_text("Pick an instance"),
            "options": options,
        }
        initial = next((o for o in options if o["value"] == str(ctx.instance_id)), None)
        if initial is not None:
            select["initial_option"] = initial
        blocks.append(
            {
                "type": "input",
                "block_id": INSTANCE_BLOCK,
                "optional": True,
                "label": plain_text("Which instance?"),
                "element": select,
            }
        )
    scope_options = [option(text, value) for value, text in SCOPE_LABELS.items()]
    blocks.append(
        {
            "type": "input",
            "block_id": SCOPE_BLOCK,
            "label": plain_text("Did you compare it upstream?"),
            "hint": plain_text(
                "Upstream means the same number is wrong outside usagebot, e.g. in the license app. "
                "Upstream reports also become a confidential issue for the data team."
            ),
            "element": {"type": "radio_buttons", "action_id": ACTION, "options": scope_options},
        }
    )
    return {
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "title": plain_text("Report a data issue"),
        "submit": plain_text("Report"),
        "close": plain_text("Cancel"),
        "private_metadata": private_metadata(ctx.account_id, ctx.instance_id, ctx.metric, view),
        "blocks": fit_to_limits(blocks, surface="modal"),
    }


def read_submission(view: dict[str, Any]) -> dict[str, Any]:
    """The submitted fields (what, metric, instance id, scope) and the metadata the modal carried."""
    values = (view.get("state") or {}).get("values") or {}

    def value(block: str) -> Any:
        return (values.get(block) or {}).get(ACTION) or {}

    meta = decode_value(view.get("private_metadata"))
    inst_raw = (value(INSTANCE_BLOCK).get("selected_option") or {}).get("value") or meta.get("i")
    try:
        instance_id = int(inst_raw) if inst_raw not in (None, "") else None
    except (TypeError, ValueError):
        instance_id = None
    return {
        "account_id": str(meta.get("a") or "")[:64],
        "view": meta.get("v"),
        "what": value(WHAT_BLOCK).get("value") or "",
        "metric": (value(METRIC_BLOCK).get("value") or "").strip() or None,
        "instance_id": instance_id,
        "scope": (value(SCOPE_BLOCK).get("selected_option") or {}).get("value"),
    }


def modal_errors(problems: dict[str, str]) -> dict[str, str]:
    """`response_action: errors` keyed by block id."""
    return {FIELD_BLOCKS[k]: v for k, v in problems.items() if k in FIELD_BLOCKS}


def _fmt(v: Any) -> str:
    if v is None:
        return "empty"
    if isinstance(v, float):
        return f"{v:,.2f}".rstrip("0").rstrip(".")
    if isinstance(v, int):
        return f"{v:,}"
    return escape(str(v))


def thread_text(issue: DataIssue) -> str:
    subject = issue.metric or issue.instance_name or "account data"
    return f"Data issue reported: {escape(subject)} for {escape(issue.account_name)} ({escape(issue.account_id)})"


def thread_blocks(issue: DataIssue) -> list[dict[str, Any]]:
    """The triage thread's parent message: who, what, where, and the values the bot holds."""
    f = issue.facts or {}
    as_of = issue.as_of_month.strftime("%Y-%m") if issue.as_of_month else "unknown"
    fields = [
        f"*Account*\n{escape(issue.account_name)} (`{escape(issue.account_id)}`)",
        f"*Instance*\n{escape(issue.instance_name) if issue.instance_name else 'not given'}",
        f"*Metric*\n{escape(issue.metric) if issue.metric else 'not given'}",
        f"*Data as of*\n{as_of}",
        f"*Reporter*\n<@{issue.reporter_id}>",
        f"*Compared upstream?*\n{SCOPE_LABELS.get(issue.scope, issue.scope)}",
    ]
    if f.get("month"):
        held = [f"Latest row of the instance: *{f['month']}*"]
        if issue.metric:
            value = _fmt(f.get("metric_value")) if f.get("metric_known") else "not a column usagebot stores"
            held.append(f"`{escape(issue.metric)}`: {value}")
        held.append(f"Billable users: {_fmt(f.get('billable_users'))}")
        held.append(f"License count: {_fmt(f.get('license_user_count'))}")
        held.append(f"Last ping that month: {_fmt(f.get('ping_created_at') or 'none')}")
        if f.get("version"):
            held.append(f"Version: {_fmt(f['version'])}")
        values = "\n".join(held)
    else:
        values = "No usage rows for this instance or account."
    blocks: list[dict[str, Any]] = [
        header(f"Data issue: {issue.account_name}"),
        section("*What looks wrong*\n" + escape(issue.what)),
        fields_section(fields),
        section("*Values usagebot holds*\n" + values),
    ]
    if issue.scope == "upstream":
        blocks.append(
            context("A confidential issue is being filed for the data team; the link follows in this thread.")
        )
    return fit_to_limits(blocks)


def pending_reply() -> str:
    return (
        ":hourglass_flowing_sand: GitLab is not answering right now; the confidential issue is saved and will be "
        "filed automatically. Its link will be posted here."
    )


def confirmation_text(issue: DataIssue, permalink: str | None, filing_status: str | None) -> str:
    """What the reporter is told (by DM) once the thread is up."""
    where = f"<{permalink}|the thread in #cs-product-analytics>" if permalink else "#cs-product-analytics"
    text = f":white_check_mark: Thanks, your data issue about *{escape(issue.account_name)}* is in {where}."
    if filing_status == "filed" and issue.issue_url:
        text += f" A confidential issue was filed for the data team: <{issue.issue_url}|#{issue.issue_iid}>."
    elif filing_status is not None:
        text += (
            " A confidential issue for the data team will be filed as soon as GitLab answers; "
            "its link will be posted in the thread."
        )
    return text


def failure_text(account_name: str) -> str:
    return (
        f":warning: Your data issue about *{escape(account_name)}* is saved, but Slack did not let me post it to "
        "#cs-product-analytics just now. It will be posted automatically and you will get the link here."
    )
