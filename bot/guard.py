"""Who may see and do what: guests and users of other workspaces are refused; Slack Connect channels never
get customer data; relabelling is for the account's TAM and CS Operations admins.

User and channel facts come from users.info / conversations.info and are cached for a few minutes per
process (a TTL, so a person turned into a guest loses access soon without a restart).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger("usagebot.guard")

TTL_SECONDS = 300.0

REFUSE_GUEST = ":lock: Sorry, customer usage data isn't available to guest accounts. Ask your TAM or CS Operations."
REFUSE_EXTERNAL = ":lock: Sorry, customer usage data is only available to members of this workspace."
REFUSE_UNKNOWN = ":lock: Sorry, I couldn't confirm who you are, so I can't show customer data. Please try again."
REFUSE_CONNECT = (
    ":lock: This channel is shared with another organisation (Slack Connect), so I won't post customer data "
    "here. Share it in an internal channel instead."
)
REFUSE_UNVERIFIED_CHANNEL = (
    ":lock: I can't check who is in this channel (invite me to it first), so I won't post customer data here."
)


@dataclass(frozen=True)
class Person:
    id: str
    team_id: str | None
    name: str
    email: str | None
    is_guest: bool
    is_bot: bool
    deleted: bool


@dataclass(frozen=True)
class ChannelFacts:
    id: str
    known: bool  # conversations.info answered
    external: bool  # Slack Connect (shared with another organisation), or pending to be


class _TTLCache:
    def __init__(self) -> None:
        self._data: dict[tuple[str, str], tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Any:
        with self._lock:
            hit = self._data.get(key)
            if hit is None or time.monotonic() - hit[0] > TTL_SECONDS:
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


def clear_caches() -> None:
    _PEOPLE.clear()
    _CHANNELS.clear()


def _cache_key(client: WebClient, ident: str) -> tuple[str, str]:
    # One cache per Slack API (tests run several fake Slacks in one process).
    return (client.base_url, ident)


def person(client: WebClient, user_id: str) -> Person | None:
    """The user's facts, or None when Slack does not know them (or cannot be reached)."""
    key = _cache_key(client, user_id)
    cached = _PEOPLE.get(key)
    if cached is not None:
        return cached
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        log.warning("users.info failed for %s: %s", user_id, exc.response.get("error"))
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
    )
    _PEOPLE.put(key, p)
    return p


def refusal_for_user(client: WebClient, user_id: str, team_id: str | None) -> str | None:
    """Why this person may not see customer data, or None when they may."""
    p = person(client, user_id)
    if p is None or p.deleted or p.is_bot:
        return REFUSE_UNKNOWN
    if p.is_guest:
        return REFUSE_GUEST
    if team_id and p.team_id and p.team_id != team_id:
        return REFUSE_EXTERNAL
    return None


def channel(client: WebClient, channel_id: str) -> ChannelFacts:
    key = _cache_key(client, "channel:" + channel_id)
    cached = _CHANNELS.get(key)
    if cached is not None:
        return cached
    try:
        info = client.conversations_info(channel=channel_id)["channel"]
    except SlackApiError as exc:
        log.info("conversations.info failed for %s: %s", channel_id, exc.response.get("error"))
        facts = ChannelFacts(channel_id, known=False, external=False)
        return facts  # not cached: the bot may be invited a minute later
    external = bool(info.get("is_ext_shared") or info.get("is_pending_ext_shared"))
    facts = ChannelFacts(channel_id, known=True, external=external)
    _CHANNELS.put(key, facts)
    return facts


def refusal_for_channel(client: WebClient, channel_id: str | None, *, posting: bool) -> str | None:
    """Why customer data must not go to this channel, or None.

    `posting` (a visible message) needs a channel we can verify; an ephemeral answer only needs the
    channel not to be a Slack Connect one (a DM with the bot, or a channel it is not in, is fine).
    """
    if not channel_id:
        return REFUSE_UNVERIFIED_CHANNEL if posting else None
    facts = channel(client, channel_id)
    if facts.external:
        return REFUSE_CONNECT
    if posting and not facts.known:
        return REFUSE_UNVERIFIED_CHANNEL
    return None


def may_relabel(p: Person | None, tam_email: str | None, admin_ids: frozenset[str]) -> bool:
    """The account's TAM (Slack email = Account.tam_email) or a CS Operations admin."""
    if p is None:
        return False
    if p.id in admin_ids:
        return True
    return bool(p.email and tam_email and p.email.strip().lower() == tam_email.strip().lower())
