"""`usagebot digest [--month YYYY-MM] [--dry-run] [--tam EMAIL]`: the monthly digest, by hand."""

from __future__ import annotations

import click

from bot.cli import Failure, settings_from
from workflows.wording import plural


def check_digest_request(database_url: str, month_key: str, tam_email: str | None, timezone: str) -> None:
    """Refuse a month outside the data and a TAM no account has (exit 1, saying which ones there are)."""
    from datetime import date

    from db.session import session_scope
    from workflows.digest.compose import current_month
    from workflows.digest.delivery import known_tam, tam_emails
    from workflows.months import check_digest_month

    year, month = (int(x) for x in month_key.split("-"))
    this_year, this_month = (int(x) for x in current_month(timezone).split("-"))
    with session_scope(database_url) as session:
        check_digest_month(session, date(year, month, 1), date(this_year, this_month, 1))  # bot.errors words it
        if tam_email is not None and not known_tam(session, tam_email):
            known = tam_emails(session)
            listed = ", ".join(known) if known else "none"
            raise Failure(f"No account has the TAM {tam_email.strip()!r}. TAMs in the data: {listed}.")


def register(cli: click.Group) -> None:
    @cli.command("digest")
    @click.option("--month", help="Month the digest is for, YYYY-MM (default: this month in TIMEZONE).")
    @click.option("--dry-run", is_flag=True, help="Print what would be sent; send and change nothing.")
    @click.option("--tam", "tam_email", help="Only this TAM (by email).")
    @click.option("--pace", type=float, default=1.0, show_default=True, hidden=True, help="Seconds between parts.")
    @click.pass_context
    def digest(ctx: click.Context, month: str | None, dry_run: bool, tam_email: str | None, pace: float) -> None:
        """DM each TAM their accounts' Unknown instances (exactly once per TAM and month)."""
        import logging

        from sqlalchemy.exc import SQLAlchemyError

        from bot.features.digest.blocks import render_digest_text
        from bot.features.digest.delivery import run_and_report
        from db.migrate import current_heads
        from workflows.digest.compose import current_month, parse_month
        from workflows.digest.schedule import scheduled_wall_time, when_text
        from workflows.secrets import redact

        settings = settings_from(ctx)
        try:
            month_key = parse_month(month) if month else current_month(settings.timezone)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--month") from None
        if tam_email is not None and "@" not in tam_email:
            raise click.BadParameter(f"{tam_email!r} is not an email address", param_hint="--tam")
        if not dry_run:
            settings.require("slack_bot_token")  # a SettingsError, worded by bot.errors
        try:
            if not current_heads(settings.database_url):
                raise Failure("The database has no schema yet: run `usagebot db upgrade` first.")
            check_digest_request(settings.database_url, month_key, tam_email, settings.timezone)
            # A dry run says when each TAM would get theirs on the digest day, in their own time zone; a real run
            # by hand sends now, whatever the time.
            wall = scheduled_wall_time(settings, month_key) if dry_run else None
            result = run_and_report(
                settings, month=month_key, tam_email=tam_email, dry_run=dry_run, pace_seconds=pace, local_time=wall
            )
        except (Failure, SQLAlchemyError):
            raise  # a database error gets the one-line message every command gives (bot/cli/__init__.py)
        except Exception as exc:  # Slack down: a clean message, the log has details
            logging.getLogger("usagebot.cli").debug("digest failed", exc_info=True)
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise Failure(f"The digest could not run: {redact(first_line)}") from None

        if dry_run:
            click.echo(f"Dry run for {month_key}: nothing was sent or recorded.")
            if wall is not None and not settings.slack_bot_token:
                click.echo(f"Slack is not configured: times below are in TIMEZONE ({settings.timezone}).")
            for digest_, parts in result.previews:
                click.echo("")
                click.echo(render_digest_text(digest_))
                blocks = sum(len(p["blocks"]) for p in parts)
                click.echo(f"  -> {plural(len(parts), 'message')}, {plural(blocks, 'block')}")
                due = result.due.get(digest_.tam_email)
                if due is not None:
                    click.echo(f"  -> {when_text(due)}")
        click.echo("")
        click.echo(result.summary_text)
        if result.tams_not_found:
            click.echo("TAMs not found in Slack: " + ", ".join(result.tams_not_found))
        if result.accounts_without_tam:
            click.echo(
                "Accounts with Unknown instances but no TAM: "
                + ", ".join(f"{name} ({n})" for _, name, n in result.accounts_without_tam[:50])
                + (" …" if len(result.accounts_without_tam) > 50 else "")
            )
        if result.in_progress_elsewhere:
            click.echo("Being sent by another run right now: " + ", ".join(result.in_progress_elsewhere))
        if result.failures:
            click.echo("Failed (rerun to retry; nothing is sent twice):")
            for line in result.failures:
                click.echo(f"  {line}")
            raise Failure(f"{plural(len(result.failures), 'digest')} could not be delivered.")
        click.echo(f"Composed in {result.compose_seconds:.2f}s; {plural(result.messages_posted, 'message')} posted.")
