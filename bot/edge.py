"""The Slack edge of the jobs in `workflows`: `BoltSlackEdge` implements `workflows.ports.SlackEdge`.

The clock process and the CLI build one from settings and hand it to the jobs they run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from bot.app import make_web_client
from workflows.digest.delivery import RunResult
from workflows.ports import SlackClient
from workflows.settings import Settings
from workflows.sync.run import SyncResult
from workflows.sync.scheduled import SyncOutcome


class BoltSlackEdge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def client(self) -> SlackClient | None:
        return make_web_client(self.settings) if self.settings.secret("slack_bot_token") else None

    def deliver_digest(
        self,
        *,
        month: str,
        tam_email: str | None = None,
        local_time: datetime | None = None,
        now: datetime | None = None,
    ) -> RunResult:
        from bot.features.digest.delivery import run_and_report

        return run_and_report(self.settings, month=month, tam_email=tam_email, local_time=local_time, now=now)

    def post_pending_threads(self, sessions: Callable[[], Session]) -> list[str]:
        from bot.features.data_quality.jobs import post_unposted

        if not self.settings.secret("slack_bot_token"):
            return []
        return post_unposted(sessions, make_web_client(self.settings), self.settings)

    def after_sync(self, result: SyncResult) -> list[str]:
        from bot.features.sync.jobs import SlackSyncFollowUp

        return SlackSyncFollowUp(self.settings).after_sync(result)

    def report_sync_failure(self, outcome: SyncOutcome) -> None:
        from bot.features.sync.jobs import SlackSyncFollowUp

        SlackSyncFollowUp(self.settings).report_sync_failure(outcome)
