"""The digest's Slack side: slack_sdk's WebClient behind `workflows.digest.delivery.SlackPort`, and one
`run_and_report` used by both `usagebot digest` and the scheduler."""

from __future__ import annotations

import http.client
import logging
import time
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from db.session import session_factory
from workflows.digest.delivery import RunResult, month_totals, record_run, run_digest, summary_due, summary_line
from workflows.settings import Settings

log = logging.getLogger("usagebot.digest")


class WebClientPort:
    """SlackPort over a WebClient built by `bot.app.make_web_client` (429/5xx retries configured there)."""

    POST_ATTEMPTS = 4

    def __init__(self, client: WebClient) -> None:
        self.client = client
        # Posting a digest part is not idempotent: after a 5xx or a dropped connection Slack may have kept the
        # message anyway. So this client only waits out 429s; other failures are checked against the DM first.
        self.poster = WebClient(
            token=client.token,
            base_url=client.base_url,
            timeout=client.timeout,
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=6)],
        )

    def lookup_user(self, email: str) -> str | None:
        return self.lookup_user_tz(email)[0]

    def lookup_user_tz(self, email: str) -> tuple[str | None, str | None]:
        """users.lookupByEmail: the user's id and the time zone of their profile (`tz`, an IANA name)."""
        try:
            response = self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None, None
            raise
        user = response.get("user") or {}
        if user.get("deleted") or user.get("is_bot"):
            return None, None
        return user.get("id"), (user.get("tz") or None)

    def open_dm(self, user_id: str) -> str:
        return self.client.conversations_open(users=user_id)["channel"]["id"]

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]], metadata: dict[str, Any]) -> str:
        """Post one part; after an unclear failure, look for it in the DM before posting it again."""
        for attempt in range(self.POST_ATTEMPTS):
            try:
                return self.poster.chat_postMessage(
                    channel=channel, text=text, blocks=blocks, metadata=metadata, unfurl_links=False
                )["ts"]
            except SlackApiError as exc:
                if exc.response.status_code < 500 or attempt == self.POST_ATTEMPTS - 1:
                    raise
                log.warning("digest post: Slack answered %s; checking the DM before retrying", exc.response.status_code)
            except (OSError, http.client.HTTPException):
                if attempt == self.POST_ATTEMPTS - 1:
                    raise
                log.warning("digest post: connection failed; checking the DM before retrying", exc_info=True)
            arrived = self._already_posted(channel, metadata)
            if arrived is not None:
                return arrived
            time.sleep(min(2**attempt, 8))
        raise AssertionError("unreachable")

    def _already_posted(self, channel: str, metadata: dict[str, Any]) -> str | None:
        try:
            recent = self.recent_metadata(channel, 50)
        except (SlackApiError, OSError, http.client.HTTPException):
            return None  # cannot tell: posting again is the lesser evil than never delivering
        for ts, meta in recent:
            if meta.get("event_type") == metadata.get("event_type") and meta.get("event_payload") == metadata.get(
                "event_payload"
            ):
                return ts
        return None

    def recent_metadata(self, channel: str, limit: int) -> list[tuple[str, dict[str, Any]]]:
        out: list[tuple[str, dict[str, Any]]] = []
        cursor = None
        seen = 0
        while seen < limit:
            response = self.client.conversations_history(
                channel=channel, include_all_metadata=True, limit=min(200, limit - seen), cursor=cursor
            )
            messages = response.get("messages") or []
            seen += len(messages)
            out.extend((m["ts"], m["metadata"]) for m in messages if m.get("metadata"))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not response.get("has_more") or not cursor or not messages:
                break
        return out

    def post_summary(self, channel: str, text: str) -> str:
        return self.client.chat_postMessage(channel=channel, text=text)["ts"]


def run_and_report(
    settings: Settings,
    *,
    month: str,
    tam_email: str | None = None,
    dry_run: bool = False,
    pace_seconds: float = 1.0,
    workers: int = 4,
    client: WebClient | None = None,
    local_time: datetime | None = None,
    now: datetime | None = None,
) -> RunResult:
    """Run the digest; unless dry, record the run and post the one-line summary to PRODUCT_ANALYTICS_CHANNEL.

    With `local_time` (the clock's passes around the digest day), each TAM gets theirs when that time has come
    in their own zone, and the summary, counting the whole month, is posted once everyone due has theirs."""
    from bot.app import make_web_client
    from bot.features.digest.blocks import render_digest

    sessions = session_factory(settings.database_url)
    port = None
    if not dry_run or settings.slack_bot_token:
        port = WebClientPort(client or make_web_client(settings))
    result = run_digest(
        sessions,
        port,
        render_digest,
        month=month,
        tam_email=tam_email,
        dry_run=dry_run,
        pace_seconds=pace_seconds,
        workers=workers,
        local_time=local_time,
        fallback_tz=settings.timezone,
        now=now,
    )
    if dry_run:
        return result
    summary_ts = None
    # A rerun that sent nothing has nothing new to say (the month's summary is already in the channel).
    should_post = not result.nothing_happened and summary_due(sessions, result)
    if local_time is not None:
        # A pass of the scheduled digest: one summary for the month once nobody is still waiting, and again
        # only when a later pass delivers someone (a TAM whose delivery had failed, say).
        sent, listed, posted = month_totals(sessions, month)
        result.summary_text = summary_line(result, totals=(sent, listed))
        should_post = not result.not_yet and (bool(result.tams_messaged) or (should_post and not posted))
        if not (should_post or result.tams_messaged or result.failures):
            return result  # a quiet pass: nothing to record either
    if settings.product_analytics_channel and should_post:
        try:
            assert port is not None
            summary_ts = port.post_summary(settings.product_analytics_channel, result.summary_text)
        except SlackApiError as exc:
            log.warning("could not post the digest summary: %s", exc)
            result.failures.append(f"summary to {settings.product_analytics_channel}: {exc.response.get('error')}")
    record_run(sessions, result, summary_ts)
    return result
