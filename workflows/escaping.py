"""How text the bot writes is escaped, for each place it goes. The one home of these rules.

- Slack mrkdwn (`mrkdwn`): Slack's own rule, `&`, `<`, `>` as entities, so a name or a person's text can
  never become a mention (`<@U…>`, `<!channel>`), a link with a false label (`<https://evil|Acme SSO>`)
  or any other control sequence. Renderers apply it to every piece of data they put in mrkdwn;
  `outgoing_message` is the last check every message, view and fallback text passes on its way out.
- GitLab Markdown (`gitlab_markdown`): a person's text in an issue or note can't start a quick action
  (`/close` at a line start), mention a user or group (`@all`), or open an HTML comment (which could hide
  text or forge the bot's idempotency marker). The issue templates keep their own quick actions: they are
  literal template text, not values.

Pure functions, usable from any layer above this one (workflows and the Slack edge alike).
"""

from __future__ import annotations

import re
from typing import Any

# -------------------------------------------------------------------------------- Slack mrkdwn


def mrkdwn(text: object) -> str:
    """Data shown in Slack mrkdwn is data, not markup (Slack's escaping: &, <, >)."""
    if text is None:
        return ""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# `<!…>` is Slack's syntax for broadcasts (`<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^…>`). The bot
# never sends one; it only formats dates (`<!date^…>`). Whatever else arrives here came from data that a
# renderer forgot to escape, and is escaped now.
_BROADCAST = re.compile(r"<!(?!date\^)([^>]*)>?")
# Fields of Block Kit / message payloads whose text Slack reads as mrkdwn.
_TEXT_KEYS = ("text", "pretext", "fallback", "footer", "title")


def _defuse(text: str) -> str:
    return _BROADCAST.sub(lambda m: "&lt;!" + m.group(1) + ("&gt;" if m.group(0).endswith(">") else ""), text)


def _walk(node: Any, *, mrkdwn_context: bool) -> Any:
    if isinstance(node, str):
        return _defuse(node) if mrkdwn_context else node
    if isinstance(node, list):
        return [_walk(item, mrkdwn_context=mrkdwn_context) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    is_plain = node.get("type") == "plain_text"
    for key, value in node.items():
        if key in _TEXT_KEYS and isinstance(value, str):
            out[key] = value if is_plain else _defuse(value)
        else:
            out[key] = _walk(value, mrkdwn_context=False)
    return out


def outgoing_message(payload: dict[str, Any]) -> dict[str, Any]:
    """A message / view / response payload made safe to send: no broadcast mention in any mrkdwn text.
    Values (button values, metadata, ids) and plain_text are left exactly as they are."""
    return _walk(payload, mrkdwn_context=False)


# -------------------------------------------------------------------------------- GitLab Markdown

# A quick action is a line whose first non-blank character is "/" (GitLab runs it with the author's rights:
# here, the bot's token). A backslash makes it literal text in Markdown and no longer a command.
_LINE_START_SLASH = re.compile(r"(?m)^([ \t>]*)/")


def gitlab_markdown(value: object) -> str:
    """A person's text made inert in a GitLab issue or note (see the module docstring)."""
    if value is None:
        return ""
    text = str(value)
    text = text.replace("<!--", "&lt;!--").replace("-->", "--&gt;")
    text = text.replace("@", "@\u200b")  # a zero-width space: reads as "@", never mentions
    return _LINE_START_SLASH.sub(lambda m: m.group(1) + "\\/", text)


def gitlab_templates() -> Any:
    """The Jinja environment of the GitLab issue templates (`workflows/templates/*.j2`): every `{{ value }}`
    passes `gitlab_markdown`, while the templates' own text (quick actions, the PM mention) stays as written."""
    from pathlib import Path

    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=StrictUndefined,
        autoescape=False,  # Markdown, not HTML; GitLab sanitizes the HTML it renders
        finalize=gitlab_markdown,
        keep_trailing_newline=True,
    )
