"""Health-drop alerts by DM: their Mute / Unmute buttons."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    from bot.features.alerts import actions

    actions.register(app)
