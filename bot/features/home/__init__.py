"""The App Home tab: the portfolio, worst first, its filters and pages."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    from bot.features.home import actions, events

    events.register(app)
    actions.register(app)
