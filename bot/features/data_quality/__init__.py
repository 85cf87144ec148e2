"""Reporting a data issue: the button and `/usage ACCOUNT report` open the modal; its submission."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    from bot.features.data_quality import actions, views

    actions.register(app)
    views.register(app)
