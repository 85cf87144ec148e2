"""`usagebot requests retry`: one pass over pending GitLab filings (metric requests, data-quality issues)."""

from __future__ import annotations

from datetime import datetime

import click

from bot.cli import Failure, settings_from


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at is not None else "?"


def register(cli: click.Group) -> None:
    @cli.group("requests")
    def requests_group() -> None:
        """GitLab filings of metric requests and data-quality issues."""

    @requests_group.command("retry")
    @click.pass_context
    def retry(ctx: click.Context) -> None:
        """File every pending GitLab issue now (ignoring backoff) and report what is still pending."""
        from bot.edge import BoltSlackEdge
        from workflows.outbox import retry_pending

        settings = settings_from(ctx)
        report = retry_pending(settings, BoltSlackEdge(settings), due_only=False)
        for o in report.filed:
            how = "found already filed" if o.found_existing else "filed"
            click.echo(f"{how}: {o.title} -> {o.issue_url}  [{o.kind} {o.key}]")
        for o in report.pending:
            retry_at = _when(o.next_attempt_at)
            click.echo(f"still pending: {o.title}: {o.reason}  [{o.kind} {o.key}; next automatic try {retry_at}]")
        for o in report.follow_up_failed:
            click.echo(f"filed, but telling people failed: {o.title} ({o.follow_up_error})  [{o.kind} {o.key}]")
        for problem in report.problems:
            click.echo(f"problem: {problem}")
        click.echo(
            f"{len(report.filed)} filed, {len(report.pending)} still pending, {report.followed_up} follow-ups done"
        )
        if not report.ok:
            raise Failure("some GitLab work is still pending (reasons above); the scheduler keeps retrying")
