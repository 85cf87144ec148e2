"""The digest's jobs on the clock (`workflows.scheduler.PERIODIC_JOBS`): this month's digest when it is due in
each TAM's time zone, and the safety net that finishes deliveries a dead run left half done. Slack is reached
through the edge they are handed (`workflows.ports.SlackEdge`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from db.models.digest import DigestDelivery
from workflows.digest.compose import as_utc, current_month
from workflows.digest.schedule import due_window
from workflows.ports import SlackEdge
from workflows.settings import Settings
from workflows.wording import plural


def scheduled_run(settings: Settings, edge: SlackEdge | None, now: datetime | None = None) -> str:
    """The scheduler's entry point (PERIODIC_JOBS), every 15 minutes around the digest day: deliver to the TAMs
    whose 09:00 (the digest's local time) has come in their own time zone; the summary once all have theirs."""
    from zoneinfo import ZoneInfo

    from workflows.scheduler import parse_trigger

    now = now or datetime.now(UTC)
    found = due_window(parse_trigger("digest", settings), ZoneInfo(settings.timezone), now)
    if found is None:
        return "no digest is due around now"
    month, wall = found
    result = _edge(edge).deliver_digest(month=month, local_time=wall, now=now)
    waiting = ""
    if result.not_yet:
        waiting = f"; {plural(len(result.not_yet), 'TAM')} get theirs later in their own time zone"
    return result.summary_text + waiting


def _edge(edge: SlackEdge | None) -> SlackEdge:
    if edge is None:
        raise RuntimeError("the digest needs Slack: run it from the clock or `usagebot digest`")
    return edge


def resume_unfinished(settings: Settings, edge: SlackEdge | None) -> str:
    """The scheduler's safety net (every few minutes): finish this month's deliveries that a dead run left
    half done once their claim has lapsed. Does nothing (and says nothing) when all are finished."""
    from db.session import session_factory

    month = current_month(settings.timezone)
    now = datetime.now(UTC)
    with session_factory(settings.database_url)() as session:
        rows = session.execute(
            select(DigestDelivery.tam_email, DigestDelivery.claimed_until).where(
                DigestDelivery.month == month, DigestDelivery.status == "sending"
            )
        ).all()
    stuck = sorted(email for email, until in rows if until is None or as_utc(until) < now)
    done = [_edge(edge).deliver_digest(month=month, tam_email=email) for email in stuck]
    resumed = sum(len(r.tams_messaged) for r in done)
    return f"resumed {resumed:,} of {plural(len(stuck), 'unfinished digest')} for {month}"
