"""Who may see and do what: the one authorization policy, for every surface (slash commands, buttons,
modals, shortcuts, the Home tab, jobs that publish on someone's behalf).

Pure rules over facts that the Slack edge looks up (`bot/guard.py`: users.info, auth.test,
conversations.info) and enforces as Bolt middleware:

- **see customer data**: a full member of this app's own workspace (or, on Enterprise Grid, of its
  organisation). Guests, bots, deactivated users, users of other workspaces (Slack Connect) and anyone
  Slack can't confirm are refused. "Own workspace" is what Slack said when the app asked who it is
  (auth.test), never the team id a request carries about itself.
- **act on an account** (relabel its instances, mute its alerts): the account's TAM (their Slack email is the
  export's TAM email) or a CS Operations admin (`CS_OPS_ADMINS`).
- **act on a request** (answer, file, join a metric request): the person who made it.
- **post customer data in a channel**: never a Slack Connect channel, and only a channel whose kind Slack
  confirmed at the moment of posting.

Refusals say what the person can do next; they never name an account or show data the person may not see.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

REFUSE_GUEST = (
    ":lock: Sorry, customer usage data isn't available to guest accounts. "
    "Your TAM or CS Operations can answer your question."
)
REFUSE_EXTERNAL = (
    ":lock: Sorry, customer usage data is only available to members of this workspace. "
    "Ask a colleague in the workspace that owns this app."
)
REFUSE_UNKNOWN = (
    ":lock: Sorry, I couldn't confirm who you are, so I can't show customer data. Please try again in a minute."
)
REFUSE_CONNECT = (
    ":lock: This channel is shared with another organisation (Slack Connect), so I won't post customer data "
    "here. Share it in an internal channel instead."
)
REFUSE_UNVERIFIED_CHANNEL = (
    ":lock: I can't check who is in this channel (invite me to it first), so I won't post customer data here."
)
REFUSE_ACT = (
    ":lock: Sorry, only the account's TAM or a CS Operations admin can change this. Nothing was changed. "
    "If something looks wrong, tell the account's TAM or use *Report a data issue*."
)
REFUSE_NOT_YOURS = (
    ":lock: This request was started by someone else, so only they can continue it. "
    "Start your own with `/usage request-metric`."
)


@dataclass(frozen=True)
class Workspace:
    """The app's own workspace, as Slack told the app (auth.test)."""

    team_id: str
    enterprise_id: str | None = None


@dataclass(frozen=True)
class Person:
    id: str
    team_id: str | None
    name: str
    email: str | None
    is_guest: bool
    is_bot: bool
    deleted: bool
    enterprise_id: str | None = None  # Enterprise Grid organisation of the user, when Slack says


@dataclass(frozen=True)
class ChannelFacts:
    id: str
    known: bool  # conversations.info answered
    external: bool  # Slack Connect (shared with another organisation), or pending to be


def same_workspace(person: Person, workspace: Workspace) -> bool:
    if person.team_id and person.team_id == workspace.team_id:
        return True
    # Enterprise Grid: a member of the organisation may sit in another workspace of the same organisation.
    return bool(workspace.enterprise_id and person.enterprise_id == workspace.enterprise_id)


def refusal_to_see(person: Person | None, workspace: Workspace | None) -> str | None:
    """Why this person may not see customer data, or None when they may."""
    if workspace is None or person is None or person.deleted or person.is_bot:
        return REFUSE_UNKNOWN  # fail closed: without knowing who we are or who they are, nothing is shown
    if person.is_guest:
        return REFUSE_GUEST
    if not same_workspace(person, workspace):
        return REFUSE_EXTERNAL
    return None


def may_act_on_account(user_id: str, user_email: str | None, tam_email: str | None, admin_ids: Collection[str]) -> bool:
    """The account's TAM (Slack email = the export's TAM email) or a CS Operations admin."""
    if user_id in admin_ids:
        return True
    if not tam_email or not user_email:
        return False
    return tam_email.strip().lower() == user_email.strip().lower()


def may_act_on_request(user_id: str, requester_ids: Collection[str]) -> bool:
    """A metric request is continued (answered, filed, joined from) only by a person who made it."""
    return bool(user_id) and user_id in requester_ids


def refusal_to_post(channel: ChannelFacts | None, *, posting: bool) -> str | None:
    """Why customer data must not go to this channel, or None.

    `posting` (a message others see) needs a channel Slack described just now; an ephemeral answer only needs
    the channel not to be a Slack Connect one (a DM with the bot, or a channel it is not in, is fine).
    """
    if channel is None:
        return REFUSE_UNVERIFIED_CHANNEL if posting else None
    if channel.external:
        return REFUSE_CONNECT
    if posting and not channel.known:
        return REFUSE_UNVERIFIED_CHANNEL
    return None
