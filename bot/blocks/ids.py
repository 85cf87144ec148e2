"""Action ids and button values of `/usage` answers: the contract between renderers and click handlers.

Block Kit builders (pure) put these on buttons; each feature's listeners answer them.
Values are compact JSON (`encode_value` / `decode_value`), always under Slack's 2,000 characters.

- `usage_view:<view>`: Summary / Utilization / Health / Adoption / Instances / Trends. Value: a=account id.
  Handled by bot/features/usage/actions.py.
- `usage_pick:<n>`: one of several candidate accounts. Value: a=account id, v=view. bot/features/usage/actions.py.
- `usage_share`: Share to channel. Value: a=account id, v=view. bot/features/usage/actions.py.
- `usage_report_issue`: Report a data issue. Value: a=account id, v=view (i=instance id, optional).
  Handled by bot/features/data_quality/actions.py.
- `usage_request_metric`: Request a metric. Value: a=account id (optional).
  Handled by bot/features/metric_request/actions.py.
- `usage_list:<prev|next>`: a page of `/usage mine` / `/usage team`. Value: s=scope word ("mine"/"team"),
  f=filter words, p=page. bot/features/usage/actions.py. Each listed account has a `usage_pick:<n>` button whose
  value
  also has k=1 (keep the list: the summary arrives as a new answer instead of replacing it).
- `relabel:<Label>`: Production / Non-Production / Obsolete / Geo Secondary Node on an Unknown instance.
  Value: i=instance id, f=current ("from") label, n=Instance.label_version when rendered, a=account id,
  o="usage" (origin). block_id `relabel:<instance id>`. Not handled here: the relabel module registers
  `re.compile(RELABEL_ACTION_RE)`.

`<view>` is one of the account views (`VIEWS` in bot/features/usage/blocks.py); `<Label>` one of
db.models.LABELS other than "Unknown".
"""

from __future__ import annotations

import json
from typing import Any

VIEW_ACTION_PREFIX = "usage_view:"
PICK_ACTION_PREFIX = "usage_pick:"
SHARE_ACTION = "usage_share"
REPORT_ISSUE_ACTION = "usage_report_issue"
REQUEST_METRIC_ACTION = "usage_request_metric"
RELABEL_ACTION_PREFIX = "relabel:"
LIST_PAGE_ACTION_PREFIX = "usage_list:"
RELABEL_TARGETS: tuple[str, ...] = ("Production", "Non-Production", "Obsolete", "Geo Secondary Node")


def relabel_targets(deployment_type: str | None) -> tuple[str, ...]:
    """The label buttons an instance gets: only labels that apply to it (see `workflows.relabel`)."""
    from workflows.relabel import applicable_labels

    allowed = set(applicable_labels(deployment_type))
    return tuple(t for t in RELABEL_TARGETS if t in allowed)

# Regexes listeners register (Bolt matches action ids with re.search).
VIEW_ACTION_RE = r"^usage_view:"
PICK_ACTION_RE = r"^usage_pick:"
RELABEL_ACTION_RE = r"^relabel:"
LIST_PAGE_ACTION_RE = r"^usage_list:"


def view_action(view: str) -> str:
    return VIEW_ACTION_PREFIX + view


def pick_action(n: int) -> str:
    return f"{PICK_ACTION_PREFIX}{n}"


def relabel_action(label: str) -> str:
    return RELABEL_ACTION_PREFIX + label


# The one codec for what the bot hands Slack to get back later: button and option values, and a modal's
# private_metadata. A value comes back from whoever clicks and is only a hint: handlers look every object up
# again and check it against the clicking user (their own request, their own conversation, the account's TAM).
VALUE_MAX = 2000  # Slack's limit for a button value
METADATA_MAX = 3000  # … and for a view's private_metadata


def encode_value(**fields: Any) -> str:
    """Compact JSON of the non-empty fields: what a click handler needs, nothing it could look up."""
    return encode_fields(fields, VALUE_MAX)


def encode_metadata(**fields: Any) -> str:
    """The same codec for a modal's private_metadata (Slack allows 3,000 characters there)."""
    return encode_fields(fields, METADATA_MAX)


def encode_fields(fields: dict[str, Any], limit: int) -> str:
    value = json.dumps({k: v for k, v in fields.items() if v is not None}, separators=(",", ":"))
    if len(value) > limit:
        raise ValueError(f"value over {limit:,} characters")
    return value


def decode_value(value: str | None) -> dict[str, Any]:
    """The fields of a button value or metadata; {} for anything that is not our JSON (a forged or old click)."""
    try:
        data = json.loads(value or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
