"""Relabelling an instance from a button (digest DMs, `/usage ACCOUNT instances`), with Undo."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    from bot.features.relabel import actions

    actions.register(app)
