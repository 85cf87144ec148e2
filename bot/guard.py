"""The authorization policy (`workflows.policy`) enforced at the Slack edge.

- Facts: who the app is (auth.test, asked once and kept), who a user is (users.info, cached a few minutes so a
  person turned into a guest loses access soon without a restart), what a channel is (conversations.info:
  cached for ephemeral answers, asked again at the moment of posting).
- `guard_requests`: Bolt middleware on every request (commands, buttons, modals, shortcuts, options, Home):
  a person the policy refuses gets the refusal in the surface they used and no listener runs; for everyone
  else `context["person"]` holds their facts for the listener.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.blocks.format import header, plain_text, section
from workflows import policy
from workflows.policy import (
    REFUSE_CONNECT,
    REFUSE_EXTERNAL,
    REFUSE_GUEST,
    REFUSE_UNKNOWN,
    REFUSE_UNVERIFIED_CHANNEL,
    ChannelFacts,
    Person,
    Workspace,
)

log = logging.getLogger("usagebot.guard")

TTL_SECONDS = 300.0
WORKSPACE_RETRY_SECONDS = 30.0
PERSON = "person"  # context key: the requesting person's facts, set by `guard_requests`

__all__ = [
    "PERSON",
    "REFUSE_CONNECT",
    "REFUSE_EXTERNAL",
    "REFUSE_GUEST",
    "REFUSE_UNKNOWN",
    "REFUSE_UNVERIFIED_CHANNEL",
    "ChannelFacts",
    "Person",
    "Workspace",
    "channel",
    "clear_caches",
    "guard_requests",
    "learn_workspace",
    "may_relabel",
    "person",
    "refusal_for_channel",
    "refusal_for_user",
    "workspace",
]


class _TTLCache:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str], ttl: float = TTL_SECONDS) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or time.monotonic() - hit[0] > ttl:
                return None
            return hit[1]

    def put(self, key: tuple[str, str], value: Any) -> None:
        with self._lock:
            if len(self._data) > 10_000:  # bounded: a long-running process must not grow without end
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


_PEOPLE = _TTLCache()
_CHANNELS = _TTLCache()
_WORKSPACES: dict[str, Workspace] = {}
_WORKSPACE_TRIED: dict[str, float] = {}
_WORKSPACE_LOCK = threading.Lock()


def clear_caches() -> None:
    _PEOPLE.clear()
    _CHANNELS.clear()
    with _WORKSPACE_LOCK:
        _WORKSPACES.clear()
        _WORKSPACE_TRIED.clear()


def _cache_key(client: WebClient, ident: str) -> tuple[str, str]:
    # One cache per Slack API (tests run several fake Slacks in one process).
    return (client.base_url, ident)


# ------------------------------------------------------------------------------------------ facts


def learn_workspace(client: WebClient) -> Workspace | None:
    """Ask Slack who this app is (auth.test) and keep the answer for the life of the process. One quick try
    (5 s, no retries): this may run at start or just before an acknowledgement, and a miss is asked again later."""
    quick = WebClient(token=client.token, base_url=client.base_url, timeout=5)
    try:
        info = quick.auth_test()
    except Exception as exc:  # Slack down at start: asked again later, and nothing is shown meanwhile
        log.warning("auth.test failed; customer data stays refused until it answers: %s", exc.__class__.__name__)
        with _WORKSPACE_LOCK:
            _WORKSPACE_TRIED[client.base_url] = time.monotonic()
        return None
    team_id = info.get("team_id")
    if not team_id:
        return None
    found = Workspace(team_id=str(team_id), enterprise_id=info.get("enterprise_id") or None)
    with _WORKSPACE_LOCK:
        _WORKSPACES[client.base_url] = found
    return found


def workspace(client: WebClient) -> Workspace | None:
    """The app's own workspace: learned once; after a failure asked again at most every 30 seconds."""
    with _WORKSPACE_LOCK:
        known = _WORKSPACES.get(client.base_url)
        tried = _WORKSPACE_TRIED.get(client.base_url)
    if known is not None:
        return known
    if tried is not None and time.monotonic() - tried < WORKSPACE_RETRY_SECONDS:
        return None
    return learn_workspace(client)


def person(client: WebClient, user_id: str) -> Person | None:
    """The user's facts, or None when Slack does not know them (or cannot be reached)."""
    if not user_id:
        return None
    key = _cache_key(client, user_id)
    cached = _PEOPLE.get(key)
    if cached is not None:
        return cached
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
        return None
    except Exception as exc:  # the network after retries: unknown, so refused (fail closed)
        log.warning("users.info failed for %s: %s", user_id, exc.__class__.__name__)
        return None
    profile = user.get("profile") or {}
    p = Person(
        id=user_id,
        team_id=user.get("team_id"),
        name=profile.get("display_name") or user.get("real_name") or user.get("name") or user_id,
        email=(profile.get("email") or None),
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        is_bot=bool(user.get("is_bot")),
        deleted=bool(user.get("deleted")),
        enterprise_id=(user.get("enterprise_user") or {}).get("enterprise_id") or None,
    )
    _PEOPLE.put(key, p)
    return p


def refusal_for_user(client: WebClient, user_id: str) -> str | None:
    """Why this person may not see customer data (the policy, against the app's own workspace), or None."""
    return policy.refusal_to_see(person(client, user_id), workspace(client))


def channel(client: WebClient, channel_id: str, *, live: bool = False) -> ChannelFacts:
    """What Slack says about the channel; `live` asks now (the moment of posting), else a recent answer will do."""
    key = _cache_key(client, "channel:" + channel_id)
    if not live:
        cached = _CHANNELS.get(key)
        if cached is not None:
            return cached
    try:
        info = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        log.info("conversations.info failed for %s: %s", channel_id, exc.response.get("error"))
        return ChannelFacts(channel_id, known=False, external=False)  # not cached: the bot may be invited later
    external = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
    facts = ChannelFacts(channel_id, known=True, external=external)
    _CHANNELS.put(key, facts)
    return facts


def refusal_for_channel(client: WebClient, channel_id: str | None, *, posting: bool) -> str | None:
    """Why customer data must not go to this channel, or None. Posting always asks Slack again (a channel can
    become Slack Connect at any moment); an ephemeral answer may use a recent answer."""
    facts = channel(client, channel_id, live=posting) if channel_id else None
    return policy.refusal_to_post(facts, posting=posting)


def may_relabel(p: Person | None, tam_email: str | None, admin_ids: frozenset[str]) -> bool:
    """The account's TAM or a CS Operations admin (the policy's rule for acting on an account)."""
    return p is not None and policy.may_act_on_account(p.id, p.email, tam_email, admin_ids)


# ------------------------------------------------------------------------------------------ middleware


def _refusal_modal(reason: str) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "usagebot_refusal",
        "title": plain_text("usagebot"),
        "close": plain_text("Close"),
        "blocks": [section(reason)],
    }


def _refusal_home(reason: str) -> dict[str, Any]:
    return {"type": "home", "blocks": [header("usagebot"), section(reason)]}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _tell(client: WebClient, body: dict[str, Any], context: Any, user_id: str, reason: str) -> None:
    """Show the refusal where the person is: their Home tab, the modal they are in, a new modal, or an
    ephemeral message. Runs after the acknowledgement."""
    kind = body.get("type")
    container = _dict(body.get("container"))
    view = _dict(body.get("view"))
    try:
        if kind == "event_callback" or view.get("type") == "home":
            client.views_publish(user_id=user_id, view=_refusal_home(reason))
        elif kind == "block_actions" and container.get("type") == "view" and view.get("id"):
            client.views_update(view_id=view["id"], view=_refusal_modal(reason))
        elif kind in ("shortcut", "message_action") and body.get("trigger_id"):
            client.views_open(trigger_id=body["trigger_id"], view=_refusal_modal(reason))
        elif context.get("respond") is not None and context.response_url:
            blocks = [section(reason)]
            context["respond"](text=reason, blocks=blocks, response_type="ephemeral", replace_original=False)
    except Exception:  # the person may have closed the modal; the refusal itself is logged below
        log.info("could not show a refusal to %s", user_id, exc_info=True)


def _channel_of(body: dict[str, Any]) -> str | None:
    if body.get("command"):
        return body.get("channel_id")
    if body.get("type") == "block_actions":
        container = _dict(body.get("container"))
        if container.get("type") == "message":
            return container.get("channel_id")
    return None


def guard_requests(body: dict[str, Any], context: Any, client: WebClient, ack: Any, next: Any) -> Any:
    """Bolt middleware: the policy for every request that a person sends."""
    from bot.outgoing import send_later

    kind = body.get("type")
    event = _dict(body.get("event"))
    if kind == "view_closed" or (kind == "event_callback" and event.get("type") != "app_home_opened"):
        return next()  # nothing is shown to anyone
    user_id = context.user_id or ""
    reason = refusal_for_user(client, user_id)
    if reason is None:
        where = _channel_of(body)
        # Answers are ephemeral, but a Slack Connect channel never gets customer data, not even those.
        reason = refusal_for_channel(client, where, posting=False) if where else None
    if reason is None:
        context[PERSON] = person(client, user_id)
        return next()
    log.info("refused %s from %s: %s", kind or body.get("command"), user_id, reason.split(".")[0])
    if kind == "view_submission":
        return ack(response_action="update", view=_refusal_modal(reason))
    if kind == "block_suggestion":
        return ack(options=[])
    response = ack()
    send_later(_tell, client, body, context, user_id, reason)
    return response
