"""`/usage ACCOUNT [view]`: the account answers, their buttons (views, pick, share, list pages)."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    from bot.features.usage import actions, command

    command.register(app)
    actions.register(app)
