"""What the jobs in `workflows` need from Slack, said here and implemented at the edge.

`workflows` never imports `bot` (the layers are checked by import-linter, see `.importlinter`). The
few jobs that end in Slack (the monthly digest and its resume pass, the outbox's follow-ups and the
data-quality triage threads it re-posts) get a `SlackEdge` from whoever runs them: the clock process
and the CLI build `bot.edge.BoltSlackEdge(settings)` and hand it in. A run without Slack (no bot
token, or a test of the GitLab side only) passes `None`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from workflows.digest.delivery import RunResult
    from workflows.sync.run import SyncResult
    from workflows.sync.scheduled import SyncOutcome


class SlackClient(Protocol):
    """The part of slack_sdk's WebClient that follow-ups use (posting a message, a DM or a thread reply)."""

    def chat_postMessage(self, *, channel: str, **kwargs: Any) -> Any: ...


class SlackEdge(Protocol):
    """The Slack side of the jobs the clock and the CLI run; `bot.edge.BoltSlackEdge` implements it."""

    def client(self) -> SlackClient | None:
        """The configured Slack client (retries, base URL), or None when no bot token is set."""
        ...

    def deliver_digest(
        self,
        *,
        month: str,
        tam_email: str | None = None,
        local_time: datetime | None = None,
        now: datetime | None = None,
    ) -> RunResult:
        """Run the month's digest (everyone, or one TAM), record it and post the summary line. With
        `local_time` (a scheduled pass), only to TAMs for whom that time has come in their own time zone."""
        ...

    def post_pending_threads(self, sessions: Callable[[], Session]) -> list[str]:
        """Post the data-quality triage threads (and reporter confirmations) Slack refused earlier;
        the problems still left, one line each."""
        ...

    def after_sync(self, result: SyncResult) -> list[str]:
        """After a successful sync: health-drop alerts and Home refreshes; a line each to print. Never raises."""
        ...

    def report_sync_failure(self, outcome: SyncOutcome) -> None:
        """Post a failed scheduled sync to PRODUCT_ANALYTICS_CHANNEL (called once per failure). Never raises."""
        ...
