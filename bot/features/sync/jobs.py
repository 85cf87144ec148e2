"""The Slack side of a sync, by hand or by the clock: health-drop alerts and Home refreshes after a load,
and the one message to PRODUCT_ANALYTICS_CHANNEL when a scheduled sync fails.

`workflows.ports.SlackEdge` names these; `bot.edge.BoltSlackEdge` hands them to this module, and `usagebot sync`
uses the same class, so the clock's sync does exactly what the command does.
"""

from __future__ import annotations

import logging

from bot.blocks.format import escape
from bot.blocks.limits import clip
from workflows.settings import Settings
from workflows.sync import SyncResult
from workflows.sync.scheduled import SyncOutcome

log = logging.getLogger("usagebot.sync")

FIRST_PROBLEMS = 10  # problems quoted in the failure message; the rest are in sync_runs and the log


class SlackSyncFollowUp:
    """`SyncFollowUp` over Slack: alerts (unless `alerts` is False), Home refreshes, failure reports."""

    def __init__(self, settings: Settings, *, alerts: bool = True) -> None:
        self.settings = settings
        self.alerts = alerts

    def after_sync(self, result: SyncResult) -> list[str]:
        settings = self.settings
        lines: list[str] = []
        if self.alerts:  # health-drop alerts to TAMs; skipped without Slack settings
            from bot.features.alerts.jobs import alerts_after_sync

            lines.append(alerts_after_sync(settings, result.as_of_month))
        from bot.features.home.jobs import refresh_home_after_sync

        try:
            refreshed = refresh_home_after_sync(settings)
        except Exception:  # a Home refresh problem must not turn a good sync into a failure
            log.exception("Home refresh after sync failed")
            refreshed = 0
        if refreshed:
            lines.append(f"Refreshed {refreshed:,} App Home tab{'s' if refreshed != 1 else ''}.")
        return lines

    def report_sync_failure(self, outcome: SyncOutcome) -> None:
        settings = self.settings
        channel = settings.product_analytics_channel
        if not channel or not settings.slack_bot_token:
            log.warning(
                "scheduled sync failed (PRODUCT_ANALYTICS_CHANNEL or SLACK_BOT_TOKEN unset): %s", outcome.line()
            )
            return
        from bot.app import make_web_client

        try:
            make_web_client(settings).chat_postMessage(
                channel=channel, text=failure_text(outcome), unfurl_links=False, unfurl_media=False
            )
        except Exception:
            log.exception("could not report the failed sync to %s", channel)


def failure_text(outcome: SyncOutcome) -> str:
    """The failure message (mrkdwn, every piece of the export or error escaped)."""
    head = f":warning: The scheduled sync of `{escape(outcome.description)}` failed; nothing was changed."
    lines = [head]
    result = outcome.result
    if outcome.status == "rejected" and result is not None:
        noun = "problem" if result.problem_count == 1 else "problems"
        lines.append(f"The export was rejected with {result.problem_count:,} {noun}. The first ones:")
        quoted = "\n".join(clip(p, 300) for p in result.problems[:FIRST_PROBLEMS])
        lines.append("```" + escape(quoted).replace("```", "'''") + "```")
        if result.problem_count > FIRST_PROBLEMS:
            lines.append(f"…and {result.problem_count - FIRST_PROBLEMS:,} more (`usagebot sync` lists them all).")
    else:
        lines.append("```" + escape(clip(outcome.error or "unknown error", 1500)).replace("```", "'''") + "```")
    lines.append("It will be tried again at the next scheduled time; this failure is reported only once.")
    return clip("\n".join(lines), 3000)
