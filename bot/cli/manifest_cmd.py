"""`usagebot manifest [--url URL]`: the Slack app manifest (YAML) to create or update the app."""

from __future__ import annotations

from typing import Any

import click

BOT_SCOPES: tuple[str, ...] = (
    "commands",
    "chat:write",
    "im:write",
    "im:history",
    "users:read",
    "users:read.email",
    "channels:read",
    "groups:read",
    "mpim:read",
    "im:read",
    "channels:history",
    "groups:history",
    "files:write",
)


def manifest(url: str | None, *, socket_mode: bool) -> dict[str, Any]:
    events_url = f"{url.rstrip('/')}/slack/events" if url else None
    command: dict[str, Any] = {
        "command": "/usage",
        "description": "Product usage, utilization and health of a customer account",
        "usage_hint": (
            "acme [utilization|health|instances|versions|trends|report] · mine [red ci:red tier:ultimate …] · "
            "team · request-metric · digest · help"
        ),
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
