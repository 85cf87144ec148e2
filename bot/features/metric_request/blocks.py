"""Block Kit for the guided metric request: the form, the candidates, and every answer after them. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.blocks.format import actions, button, context, divider, escape, option, plain_text, section
from bot.blocks.ids import decode_value, encode_metadata, encode_value
from bot.blocks.limits import clip
from bot.features.metric.blocks import card_text
from db.models.requests import COUNT_KINDS
from workflows.metric_card import MetricCard, from_stored

View = dict[str, Any]
Block = dict[str, Any]

CALLBACK_FORM = "metric_request"
CALLBACK_STEP = "metric_request_step"  # every view after the form (no inputs, nothing to submit)
SHORTCUT = "request_metric"

# Input blocks of the form: workflow field name -> block id (validation errors are keyed by block id).
BLOCKS: dict[str, str] = {
    "what": "mr_what",
    "product_group": "mr_area",
    "count_kind": "mr_kind",
    "why": "mr_why",
    "account": "mr_account",
}
VALUE_ACTION = "value"
AREA_OPTIONS_ACTION = "mr_product_area"  # external select (when the dictionary has > 100 product groups)

PICK_ACTION = "mr_pick"  # "This is it"   value: {"r": request id, "k": key path}
NONE_ACTION = "mr_none"  # "None of these" value: {"r": request id}
ADD_ME_ACTION = "mr_add_me"  # "Add me to it" value: {"r": request id, "t": "local:12" | "gitlab:34"}
FILE_NEW_ACTION = "mr_file_new"  # "File a new one" value: {"r": request id}

MAX_STATIC_OPTIONS = 100
TITLE = "Request a metric"  # modal titles are at most 24 characters
TEXT_MAX = 3000
NOTHING_FITS = (
    "Nothing in the Metrics Dictionary measures this, as far as I can tell, so this is a new metric to ask for."
)


decode = decode_value  # the one codec (bot/blocks/ids.py)


def _modal(
    blocks: list[Block], *, callback_id: str = CALLBACK_STEP, metadata: str = "", submit: str | None = None
) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain_text(TITLE),
        "close": plain_text("Close" if submit is None else "Cancel"),
        "blocks": blocks[:100],
        "private_metadata": metadata[:3000],
    }
    if submit:
        view["submit"] = plain_text(submit)
    return view


# ----------------------------------------------------------------------------------- the form
def form_view(product_areas: Sequence[str], *, account: str | None = None, channel: str | None = None) -> View:
    """The modal: what (required), product area, kind of count, why it matters, optional account."""
    if len(product_areas) > MAX_STATIC_OPTIONS:
        area_element: dict[str, Any] = {
            "type": "external_select",
            "action_id": AREA_OPTIONS_ACTION,
            "min_query_length": 0,
            "placeholder": plain_text("Type to search product groups"),
        }
    elif product_areas:
        area_element = {
            "type": "static_select",
            "action_id": VALUE_ACTION,
            "placeholder": plain_text("Pick a product group"),
            "options": [option(a, a) for a in product_areas],
        }
    else:  # no dictionary imported yet: let people type it
        area_element = {"type": "plain_text_input", "action_id": VALUE_ACTION, "max_length": 128}
    blocks: list[Block] = [
        section(
            "Tell me what you would like to measure. I'll look for an existing metric first, and file a request "
            "with Product Analytics only if there is none."
        ),
        {
            "type": "input",
            "block_id": BLOCKS["what"],
            "label": plain_text("What should be measured?"),
            "element": {
                "type": "plain_text_input",
                "action_id": VALUE_ACTION,
                "multiline": True,
                "max_length": TEXT_MAX,
                "placeholder": plain_text("e.g. how many merge requests were approved per project each month"),
            },
        },
        {
            "type": "input",
            "block_id": BLOCKS["product_group"],
            "optional": True,
            "label": plain_text("Product area"),
            "element": area_element,
        },
        {
            "type": "input",
            "block_id": BLOCKS["count_kind"],
            "optional": True,
            "label": plain_text("Kind of count"),
            "element": {
                "type": "static_select",
                "action_id": VALUE_ACTION,
                "placeholder": plain_text("Pick one"),
                "options": [option(label, value) for value, label in COUNT_KINDS.items()],
            },
        },
        {
            "type": "input",
            "block_id": BLOCKS["why"],
            "optional": True,
            "label": plain_text("Why does it matter for customers?"),
            "element": {"type": "plain_text_input", "action_id": VALUE_ACTION, "multiline": True, "max_length": 3000},
        },
        {
            "type": "input",
            "block_id": BLOCKS["account"],
            "optional": True,
            "label": plain_text("Account that needs it (optional)"),
            "element": {
                "type": "plain_text_input",
                "action_id": VALUE_ACTION,
                "max_length": 255,
                **({"initial_value": account[:255]} if account else {}),
            },
        },
    ]
    meta = encode_metadata(c=channel, a=account)
    return _modal(blocks, callback_id=CALLBACK_FORM, metadata=meta, submit="Find metrics")


def area_options(product_areas: Sequence[str], query: str) -> list[dict[str, Any]]:
    """Options for the external select: groups containing the typed text, at most 100."""
    q = query.strip().lower()
    return [option(a, a) for a in product_areas if q in a.lower()][:MAX_STATIC_OPTIONS]


def read_form(values: dict[str, Any]) -> dict[str, str | None]:
    """Field name -> submitted value from a view_submission's `view.state.values`."""
    out: dict[str, str | None] = {}
    for field, block_id in BLOCKS.items():
        actions = values.get(block_id) or {}
        el = next(iter(actions.values()), None) or {}
        if el.get("type") in ("static_select", "external_select"):
            out[field] = (el.get("selected_option") or {}).get("value")
        else:
            out[field] = el.get("value")
    return out


def form_errors(errors: dict[str, str]) -> dict[str, str]:
    """Workflow field errors keyed by the form's block ids (for `response_action: errors`)."""
    return {BLOCKS.get(field, BLOCKS["what"]): message for field, message in errors.items()}


# ----------------------------------------------------------------------------------- candidates
def _candidate_text(c: dict[str, Any]) -> str:
    """A candidate as the metric card `/usage metric` shows (one card, one renderer)."""
    return card_text(from_stored(c), description_max=600)


def candidates_view(request_id: int, what: str, candidates: Sequence[dict[str, Any]]) -> View:
    blocks: list[Block] = [section(f"*You asked for:* {escape(clip(what, 500))}")]
    if candidates:
        blocks.append(section("These existing metrics come closest. Is one of them what you need?"))
        for i, c in enumerate(candidates):
            blocks.append(
                section(
                    _candidate_text(c),
                    block_id=f"mr_cand_{i}",
                    accessory=button("This is it", PICK_ACTION, encode_value(r=request_id, k=c["key_path"]), "primary"),
                )
            )
        blocks.append(divider())
        none_text = "None of these"
    else:
        blocks.append(section(NOTHING_FITS))
        none_text = "File the request"
    blocks.append(actions([button(none_text, NONE_ACTION, encode_value(r=request_id))], block_id="mr_none"))
    return _modal(blocks, metadata=encode_metadata(r=request_id))


def answered_view(card: MetricCard) -> View:
    return _modal(
        [
            section(":white_check_mark: Great, it already exists:"),
            section(card_text(card)),
            context(
                f"You'll find it in the customer's usage data under that key path ({escape(card.reported_in)}). "
                "I noted your request as answered by this metric."
            ),
        ]
    )


# ----------------------------------------------------------------------------------- duplicates and filing
def working_view(text: str) -> View:
    return _modal([section(f":hourglass_flowing_sand: {text}")])


def duplicates_view(request_id: int, duplicates: Sequence[Any], gitlab_problem: str | None = None) -> View:
    """Earlier open requests that look the same: "Add me to it" on each, and "File a new one"."""
    blocks: list[Block] = [section("Someone already asked for something very similar:")]
    for i, d in enumerate(duplicates):
        link = f" (<{d.issue_url}|#{d.issue_iid}>)" if d.issue_url else " (being filed)"
        people = f" · {d.requesters} requester{'s' if d.requesters != 1 else ''}" if d.request_id else ""
        blocks.append(
            section(
                f"*{escape(d.title)}*{link}{people}",
                block_id=f"mr_dup_{i}",
                accessory=button("Add me to it", ADD_ME_ACTION, encode_value(r=request_id, t=d.ref), "primary"),
            )
        )
    if gitlab_problem:
        blocks.append(context(f"I could not search GitLab for other requests ({escape(gitlab_problem)})."))
    file_new = button("File a new one", FILE_NEW_ACTION, encode_value(r=request_id))
    blocks.append(actions([file_new], block_id="mr_file_new"))
    return _modal(blocks, metadata=encode_metadata(r=request_id))


def filed_view(issue_url: str, issue_iid: int | None, found_existing: bool = False) -> View:
    what = "was already filed" if found_existing else "is filed"
    return _modal(
        [
            section(f":white_check_mark: Your request {what}: <{issue_url}|issue #{issue_iid}>"),
            context("Product Analytics is mentioned on it; I also sent you the link in a DM."),
        ]
    )


def pending_view(reason: str | None) -> View:
    blocks = [
        section(
            ":warning: GitLab is unavailable; your request is saved and will be filed automatically; "
            "I'll DM you the link."
        )
    ]
    if reason:
        blocks.append(context(f"Reason: {escape(reason)}"))
    return _modal(blocks)


def busy_view() -> View:
    return _modal([section("Your request is being filed right now; I'll DM you the link.")])


def joined_view(title: str, issue_url: str | None, note_problem: str | None = None) -> View:
    where = f" <{issue_url}|on GitLab>" if issue_url else " (it is being filed; you'll get the link in a DM)"
    blocks = [section(f":raised_hands: You're added to *{escape(title)}*{where}.")]
    if note_problem:
        blocks.append(context(f"I'll add your +1 note on GitLab as soon as I can ({escape(note_problem)})."))
    return _modal(blocks)


def problem_view(text: str) -> View:
    return _modal([section(f":warning: {escape(text)}")])
