"""`usagebot manifest [--url URL]`: the Slack app manifest (YAML) to create or update the app."""

from __future__ import annotations

from typing import Any

import click

# Every Web API method the code calls, and the bot scopes it needs (none for auth.test, chat.getPermalink and
# views.*). tests/test_security_manifest.py reads the code for the methods it calls and checks both tables, so
# the app never asks for a scope it doesn't use (and never lacks one it needs).
METHOD_SCOPES: dict[str, tuple[str, ...]] = {
    "auth_test": (),
    "chat_postMessage": ("chat:write",),
    "chat_postEphemeral": ("chat:write",),
    "chat_update": ("chat:write",),
    "chat_getPermalink": (),
    "conversations_open": ("im:write",),
    "conversations_info": ("channels:read", "groups:read", "im:read", "mpim:read"),
    "conversations_history": ("im:history",),  # only the bot's own DMs (digest parts, alerts)
    "conversations_replies": ("im:history",),  # only the digest DM a stale relabel prompt points back to
    "users_info": ("users:read", "users:read.email"),
    "users_lookupByEmail": ("users:read.email",),
    "files_upload_v2": ("files:write",),
    "views_open": (),
    "views_update": (),
    "views_publish": (),
}

# The bot scopes and why each is needed (docs/security.md shows the same list).
SCOPE_REASONS: dict[str, str] = {
    "commands": "the /usage slash command and the 'Request a metric' shortcut",
    "chat:write": "answers, shared copies, DMs (digest, alerts, links), triage threads and their updates",
    "im:write": "opening the DM with a person (digest, alerts, filed-issue links, charts)",
    "im:history": "finding the bot's own digest and alert DMs again, so a retry never posts twice",
    "users:read": "users.info: is the person a guest, a bot, deactivated, or from another workspace",
    "users:read.email": "the person's email, matched with the export's TAM email (and TAM lookup by email)",
    "channels:read": "conversations.info on public channels: never post into Slack Connect",
    "groups:read": "conversations.info on private channels: never post into Slack Connect",
    "im:read": "conversations.info on DMs (Share from a DM)",
    "mpim:read": "conversations.info on group DMs (Share from a group DM)",
    "files:write": "the trends chart (PNG) in the person's DM or the channel it is shared to",
}
BOT_SCOPES: tuple[str, ...] = tuple(SCOPE_REASONS)


def usage_hint() -> str:
    """What Slack shows as the person types `/usage`: every view from the renderers themselves, so a new view
    is never hidden from it."""
    from bot.features.usage.blocks import VIEWS
    from bot.features.usage.command import ACCOUNT_SUBCOMMANDS

    words = [v for v in VIEWS if v != "summary"] + list(ACCOUNT_SUBCOMMANDS)
    return (
        f"acme [{'|'.join(words)}] · "
        "mine [red ci:red tier:ultimate …] · team · metric pipelines · request-metric · digest · help"
    )


def manifest(url: str | None, *, socket_mode: bool) -> dict[str, Any]:
    events_url = f"{url.rstrip('/')}/slack/events" if url else None
    command: dict[str, Any] = {
        "command": "/usage",
        "description": "Product usage, utilization and health of a customer account",
        "usage_hint": usage_hint(),
        "should_escape": False,
    }
    interactivity: dict[str, Any] = {"is_enabled": True}
    events: dict[str, Any] = {"bot_events": ["app_home_opened"]}
    if events_url and not socket_mode:
        command["url"] = events_url
        interactivity["request_url"] = events_url
        interactivity["message_menu_options_url"] = events_url
        events["request_url"] = events_url
    return {
        "display_information": {
            "name": "usagebot",
            "description": "Customer product usage for TAMs and CSMs",
            "background_color": "#4a154b",
        },
        "features": {
            "app_home": {
                "home_tab_enabled": True,
                "messages_tab_enabled": True,
                "messages_tab_read_only_enabled": False,
            },
            "bot_user": {"display_name": "usagebot", "always_online": True},
            "shortcuts": [
                {
                    "name": "Request a metric",
                    "type": "global",
                    "callback_id": "request_metric",
                    "description": "Ask Product Analytics for a metric the data doesn't have yet",
                }
            ],
            "slash_commands": [command],
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def register(cli: click.Group) -> None:
    @cli.command("manifest")
    @click.option("--url", default=None, help="Public base URL of `usagebot serve` (https://…); omit for Socket Mode.")
    def manifest_cmd(url: str | None) -> None:
        """Print the Slack app manifest (YAML): /usage, the request_metric shortcut, scopes, events, interactivity."""
        import yaml

        if url is not None and not url.startswith("https://"):
            raise click.BadParameter("expected an https:// URL (Slack only calls https)", param_hint="--url")
        click.echo(
            yaml.safe_dump(manifest(url, socket_mode=url is None), sort_keys=False, allow_unicode=True), nl=False
        )
