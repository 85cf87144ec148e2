"""`usagebot alerts [--month YYYY-MM] [--previous YYYY-MM] [--dry-run]`: health-drop alerts to TAMs now.

The sync runs the same after each successful load; a second run for the same month repeats nothing.
"""

from __future__ import annotations

import click

from bot.cli import Failure, settings_from


def register(cli: click.Group) -> None:
    @cli.command("alerts")
    @click.option("--month", "month_text", metavar="YYYY-MM", help="New month (default: the data's as-of month).")
    @click.option(
        "--previous", "previous_text", metavar="YYYY-MM", help="Month compared with (default: the one before)."
    )
    @click.option("--dry-run", is_flag=True, help="Print the alerts that would be sent; send and record nothing.")
    @click.pass_context
    def alerts(ctx: click.Context, month_text: str | None, previous_text: str | None, dry_run: bool) -> None:
        """DM each TAM, once, the accounts whose health or utilization dropped since the month before."""
        from slack_sdk.errors import SlackApiError
        from sqlalchemy.exc import SQLAlchemyError

        from bot.cli.report_cmd import parse_month
        from workflows.wording import plural

        month = parse_month(month_text)
        try:
            previous = parse_month(previous_text)
        except click.BadParameter as exc:
            raise click.BadParameter(str(exc.message), param_hint="--previous") from None
        settings = settings_from(ctx)
        from bot.features.alerts.jobs import run_alerts

        try:
            run = run_alerts(settings, month, previous, dry_run=dry_run)
        except SlackApiError as exc:
            raise Failure(f"Slack refused: {exc.response.get('error')}") from None
        except SQLAlchemyError as exc:
            raise Failure(
                f"could not read the database ({exc.__class__.__name__}); is DATABASE_URL right and has "
                "`usagebot db upgrade` been run?"
            ) from None
        if run.month is None:
            click.echo("No usage data yet: nothing to compare.")
            return
        if not run.previous_has_data:
            click.echo(f"No usage data for {run.previous:%Y-%m}: nothing to compare {run.month:%Y-%m} with.")
            return
        click.echo(f"Alerts for {run.month:%Y-%m} compared with {run.previous:%Y-%m}: {len(run.alerts):,}")
        for a in run.alerts:
            click.echo(f"  {a.account_name} [{a.tam_email or 'no TAM'}] {a.kind}: {a.message}  ({a.command})")
        if run.result is None:
            click.echo("Dry run: nothing sent or recorded.")
            return
        r = run.result
        click.echo(
            f"Recorded {r.recorded:,} new ({r.already:,} already sent before); "
            f"{plural(r.messages, 'message')} to TAMs with {plural(r.sent, 'alert')}."
        )
        if r.no_tam:
            click.echo(f"Accounts without a TAM email: {', '.join(r.no_tam)}")
        if r.tams_not_found:
            click.echo(f"TAMs not found in Slack: {', '.join(r.tams_not_found)}")
        if r.failed:
            raise Failure(f"could not message {', '.join(r.failed)}; their alerts stay pending for the next run")
