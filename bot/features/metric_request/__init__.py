"""Requesting a metric: the form (shortcut, `/usage request-metric`, button) and its buttons."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    from bot.features.metric_request import actions, views

    views.register(app)
    actions.register(app)
